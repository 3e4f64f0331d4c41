"""Raw message bytes -> ParsedMail. The one module that imports flanker.mime.

Nothing here does I/O. A message that flanker cannot parse raises MalformedMessage; the
pipeline records it as refused with that reason, so no input can crash intake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flanker import mime as _flanker_mime
from flanker.mime.message.errors import MimeError

from parsers.addresses import parse_mailbox_list

MAX_PARTS = 500
MAX_DEPTH = 8


class MalformedMessage(ValueError):
    """The bytes are not a message we can read."""


@dataclass(frozen=True)
class Headers:
    """Decoded headers in their original order; names compared case-insensitively."""

    items: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.items:
            if key.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.items if key.lower() == wanted]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True)
class ParsedMail:
    """One inbound message, normalized: what every later stage reads."""

    headers: Headers
    content_type: str
    message_id: str | None = None
    subject: str = ""
    from_addresses: tuple[str, ...] = ()
    to_addresses: tuple[str, ...] = ()
    cc_addresses: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    text: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # message/rfc822 parts (forwards, the returned message of a bounce), parsed in turn
    attached_messages: tuple["ParsedMail", ...] = ()
    # (content type, text) of machine-readable report parts: message/delivery-status,
    # message/feedback-report, text/rfc822-headers
    report_parts: tuple[tuple[str, str], ...] = field(default=())

    @property
    def report_type(self) -> str | None:
        """The report-type parameter of a multipart/report message, lowercased."""
        value = self.headers.get("Content-Type") or ""
        for param in value.split(";")[1:]:
            key, _, val = param.partition("=")
            if key.strip().lower() == "report-type":
                return val.strip().strip('"').lower()
        return None


REPORT_TYPES = ("message/delivery-status", "message/feedback-report", "text/rfc822-headers",
                "message/disposition-notification")


def parse_message(raw: bytes) -> ParsedMail:
    """Parse raw RFC 5322 bytes. Raises MalformedMessage when they cannot be read."""
    if not raw.strip():
        raise MalformedMessage("the message is empty")
    try:
        root = _flanker_mime.from_string(raw)
        return _convert(root, depth=0)
    except MalformedMessage:
        raise
    except (MimeError, ValueError, LookupError, UnicodeError, TypeError, AttributeError) as exc:
        raise MalformedMessage(f"the message could not be parsed ({type(exc).__name__})") from exc


def _convert(root, depth: int) -> ParsedMail:
    if depth > MAX_DEPTH:
        raise MalformedMessage("messages nested too deeply")
    headers = Headers(tuple((str(k), _header_text(v)) for k, v in root.headers.items()))
    text = html = None
    attachments: list[Attachment] = []
    attached: list[ParsedMail] = []
    reports: list[tuple[str, str]] = []
    for count, part in enumerate(root.walk(with_self=True, skip_enclosed=True)):
        if count > MAX_PARTS:
            raise MalformedMessage(f"more than {MAX_PARTS} MIME parts")
        ctype = str(part.content_type).lower()
        if ctype.startswith("multipart/"):
            continue
        if ctype == "message/rfc822" and part.enclosed is not None:
            attached.append(_convert(part.enclosed, depth + 1))
            continue
        if ctype in REPORT_TYPES:
            reports.append((ctype, _report_body(part)))
            continue
        disposition = (part.content_disposition[0] or "").lower() if part.content_disposition else ""
        filename = part.detected_file_name or ""
        is_attachment = disposition == "attachment" or (bool(filename) and ctype not in ("text/plain", "text/html"))
        if ctype == "text/plain" and text is None and not is_attachment:
            text = _text_body(part)
        elif ctype == "text/html" and html is None and not is_attachment:
            html = _text_body(part)
        else:
            attachments.append(_attachment(part, ctype, filename, disposition))
    return ParsedMail(
        headers=headers,
        content_type=str(root.content_type).lower(),
        message_id=_strip_brackets(headers.get("Message-ID")),
        subject=headers.get("Subject") or "",
        from_addresses=_addresses(headers.get_all("From")),
        to_addresses=_addresses(headers.get_all("To")),
        cc_addresses=_addresses(headers.get_all("Cc")),
        in_reply_to=_strip_brackets(headers.get("In-Reply-To")),
        references=tuple(_strip_brackets(r) or "" for r in (headers.get("References") or "").split() if r.strip("<>")),
        text=text,
        html=html,
        attachments=tuple(attachments),
        attached_messages=tuple(attached),
        report_parts=tuple(reports),
    )


def _header_text(value) -> str:
    if isinstance(value, tuple):  # flanker returns (value, params) for Content-* headers
        main, params = value
        rendered = str(main)
        for key, val in (params or {}).items():
            rendered += f'; {key}="{val}"'
        return rendered
    return str(value)


def _text_body(part) -> str:
    body = part.body
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return str(body)


def _report_body(part) -> str:
    """flanker parses some report types as enclosed header blocks rather than text bodies."""
    if part.body is None and getattr(part, "enclosed", None) is not None:
        raw = part.enclosed.to_string()
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return _text_body(part)


def _attachment(part, ctype: str, filename: str, disposition: str) -> Attachment:
    body = part.body
    if isinstance(body, str):
        data = body.encode("utf-8")
    elif body is None:
        data = b""
    else:
        data = bytes(body)
    content_id = _strip_brackets(part.headers.get("Content-Id"))
    return Attachment(
        filename=filename or "attachment",
        content_type=ctype,
        data=data,
        inline=disposition == "inline",
        content_id=content_id,
    )


def _strip_brackets(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("<") and ">" in value:
        value = value[1 : value.index(">")]
    return value.strip() or None


def _addresses(values: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        found.extend(parse_mailbox_list(value))
    return tuple(found)
