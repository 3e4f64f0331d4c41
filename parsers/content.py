"""What a reply brings to its ticket (SPEC rule 8): the writer's new text; a message they
forwarded, without the forward's header block; or, when they wrote nothing, the files and
pictures they added, which the text then names.

A post has one content. Where the HTML part is kept as the post's HTML, the post's text is the
text of that kept, sanitized HTML, not the text part: a text part that says something else is
never shown, so staff and recipients read the same words.

Added files are every attachment except the images that only the cut-off history or
signature shows (a logo in a quoted signature), unnamed text parts (more of the body), and the
parts that clients attach to any message of theirs (S/MIME and PGP signatures and keys,
Outlook's winmail.dat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.filenames import safe_filename
from parsers.forwards import forwarded_message
from parsers.html import html_to_text
from parsers.mime import Attachment, ParsedMail
from parsers.quotes import extract_reply
from parsers.sanitize import inline_image_ids

_NOT_CONTENT = frozenset({
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature",
    "application/pgp-keys", "application/ms-tnef", "application/vnd.ms-tnef",
})


# Where a text part shows a picture of the HTML part: Outlook's "[cid:image001.png@01DB...]",
# Gmail's "[image: photo.png]"
_PLACEHOLDER = re.compile(r"\[(?:cid:[^\]\s]{1,300}|image: [^\]\n]{0,300})\]")


@dataclass(frozen=True)
class Content:
    text: str
    # the new part of the HTML part (parsers.quotes.Reply.html); None without an HTML part, and
    # for a forward, whose copies show the text
    html: str | None
    trimmed: str  # what was cut off, for audit


def reply_content(mail: ParsedMail) -> Content:
    reply = extract_reply(mail.text, mail.html)
    forwarded = forwarded_message(mail)
    if forwarded:
        return Content("\n\n".join(part for part in (reply.text, forwarded) if part), None, reply.trimmed)
    text = html_to_text(reply.html, for_reply=True).text if reply.html else reply.text
    if not _PLACEHOLDER.sub("", text).strip():
        added = added_attachments(mail, inline_image_ids(reply.html or ""))
        if added:
            return Content(attachment_line(added), reply.html or None, reply.trimmed)
    return Content(text, reply.html or None, reply.trimmed)


def added_attachments(mail: ParsedMail, shown_inline: set[str]) -> list[Attachment]:
    """The attachments the writer added; shown_inline: the Content-IDs the kept HTML shows."""
    in_history = inline_image_ids(mail.html or "") - shown_inline
    return [a for a in mail.attachments
            if a.content_type not in _NOT_CONTENT and not _unnamed_text(a)
            and (a.content_id is None or a.content_id not in in_history)]


def _unnamed_text(attachment: Attachment) -> bool:
    """A text part with no name is more of the body (iOS Mail puts the text below a photo in a
    part of its own), not a file the writer attached."""
    return attachment.content_type in ("text/plain", "text/html") and attachment.filename == "attachment"


def attachment_line(attachments: list[Attachment]) -> str:
    return "[Attached: " + ", ".join(safe_filename(a.filename) for a in attachments) + "]"
