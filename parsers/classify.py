"""What kind of mail is this: a bounce, a delay warning, a feedback report, other automatic
mail, or a post written by a person (SPEC: "Never a post, never a loop").

The rules run in order and the first that matches decides:

1. Reports: ARF feedback reports; RFC 3464 delivery status notifications, read field by field.
2. Bounces in the common non-standard formats, recognised by their text, but only when the
   mail also shows that a machine sent it (see _machine_evidence). A person who writes
   "your mail was undeliverable" in a reply is not a bounce. The evidence may be the mail
   itself, whoever it claims to be from (over IMAP there is no envelope, and some servers
   send reports from a person's address): a report part, or the fixed wording with which a
   mail system opens its report, written at the start of a line in the mail's own text (not
   in a quote or a forwarded message).
3. Automatic mail: RFC 3834 Auto-Submitted, Precedence, vendor headers, mailing-list headers,
   the subject prefixes that responders write, the null sender, no-reply senders.
4. Everything else is a post.

Signals are of two sorts. The form of a message declares it machine mail: report MIME types,
RFC 3834 and vendor auto-reply headers, a null or mail-daemon envelope sender, and the fixed
templates of mail systems and responders (a report's opening lines, an "Automatic reply:" or
"Out of Office AutoReply:" subject). Words and names only suggest it: failure wording, a From such
as "System Administrator" or "pat.smtp@", an "Out of office:" subject a person may write too,
mailing-list headers a corporate system adds. classify(wording=False) reads the form alone, for
mail from a person the gateway knows (gateway.intake.pipeline): their words never make it automatic.

X-Auto-Response-Suppress is deliberately not a signal: it asks the receiver not to answer
this message automatically, and Outlook/Exchange put it on ordinary mail written by people
as well as on their own out-of-office replies (which carry Auto-Submitted anyway).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.addresses import parse_mailbox
from parsers.html import html_to_text
from parsers.mime import ParsedMail
from parsers.quotes import header_block_at, is_forward_intro, is_separator


class Kind(enum.StrEnum):
    BOUNCE = "bounce"          # permanent delivery failure report
    DELAY = "delay"            # temporary failure / delay warning DSN
    FEEDBACK = "feedback"      # ARF feedback report (abuse/spam complaint)
    AUTO_REPLY = "auto_reply"  # vacation/out-of-office/autoresponder/other machine-generated mail
    POST = "post"              # written by a person


@dataclass(frozen=True)
class Classification:
    kind: Kind
    reason: str                            # short human-readable, e.g. "Auto-Submitted: auto-replied"
    # BOUNCE/DELAY: lowercased addresses that failed, when they can be found;
    # FEEDBACK: the Original-Rcpt-To of the complaint, when the report names it
    recipients: tuple[str, ...] = ()
    # BOUNCE/DELAY: the failure's status, as the report gives it ("5.1.1", or an SMTP code
    # such as "550"), or read from the usual wording ("user unknown": "5.1.1"); None if unknown
    status: str | None = None


def classify(mail: ParsedMail, envelope_sender: str | None, *, wording: bool = True) -> Classification:
    """envelope_sender is the SMTP MAIL FROM: "" or "<>" is the null sender, None is unknown
    (the message was read from a mailbox; its Return-Path header then stands in). With wording
    False, only what the message's structure declares counts (see above)."""
    sender = envelope_sender if envelope_sender is not None else mail.headers.get("Return-Path")
    evidence = _machine_evidence(mail, sender, wording)
    return (
        _feedback_report(mail)
        or _delivery_report(mail, evidence)
        or _bounce_text(mail, evidence)
        or _automatic(mail, sender, wording)
        or Classification(Kind.POST, "no sign of automatic mail")
    )


# --- who sent it -------------------------------------------------------------------------

# Local parts that mail systems send reports from; "smtp" anywhere covers gateways that sign as
# e.g. E500_SMTP_Mail_Service or Symantec_AntiVirus_for_SMTP_Gateways.
_DAEMON_LOCAL = re.compile(
    r"^(?:mailer-?daemon|mail-?daemon|mdaemon|postmaster|mail\.delivery\.system|ndr)$|smtp", re.I
)
# Display names too: Exchange 5.5 sent its reports as "System Administrator".
_DAEMON_FROM_TEXT = re.compile(
    r"mailer-daemon|postmaster|mail delivery (?:subsystem|system)|system administrator", re.I
)
# The envelope senders that mail systems themselves use (RFC 5321 postmaster, the daemons)
_DAEMON_ENVELOPE = re.compile(r"^(?:mailer-?daemon|mail-?daemon|mdaemon|postmaster)$", re.I)
_NO_REPLY_LOCAL = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-?daemon|postmaster)(?:$|[-_.+])", re.I
)


def _is_null(sender: str | None) -> bool:
    return sender is not None and sender.strip() in ("", "<>")


def _local_part(address: str) -> str:
    local = address.strip().strip("<>").rpartition("@")[0] or address.strip().strip("<>")
    # BATV (prvs=tag=user) and similar signing prefixes keep the real local part last
    if "=" in local and local.lower().startswith(("prvs=", "btv1=", "msprvs1=")):
        local = local.rsplit("=", 1)[-1]
    return local.lower()


def _machine_evidence(mail: ParsedMail, sender: str | None, wording: bool) -> str | None:
    """Why we believe a mail system (not a person) sent this mail, or None."""
    if _is_null(sender):
        return "null envelope sender"
    if sender and (_DAEMON_LOCAL if wording else _DAEMON_ENVELOPE).search(_local_part(sender)):
        return f"envelope sender {sender.strip().strip('<>')}"
    if mail.content_type == "multipart/report" or any(c in _REPORT_EVIDENCE for c, _ in mail.report_parts):
        return "multipart/report"
    if "X-Failed-Recipients" in mail.headers:
        return "X-Failed-Recipients header"
    if _NDR_HEADER in mail.headers:
        return f"{_NDR_HEADER} header"
    if any(_QMAIL_BOUNCE.search(value) for value in mail.headers.get_all("Received")):
        return "qmail bounce Received line"
    if not wording:  # a mail system's templates are the form of a report, not a person's words
        return _template_in_content(mail)
    return _evidence_in_words(mail)


def _evidence_in_words(mail: ParsedMail) -> str | None:
    """A machine wrote this mail, as its From or its own text suggest."""
    from_header = mail.headers.get("From")
    if from_header is None or "<>" in from_header:
        return "From has no address"
    if _DAEMON_FROM_TEXT.search(from_header):
        return f"From is {from_header.strip()}"
    for address in mail.from_addresses:
        if _DAEMON_LOCAL.search(_local_part(address)):
            return f"From is {address}"
    return _evidence_in_content(mail)


def _template_in_content(mail: ParsedMail) -> str | None:
    """A mail system's report opening, or its banner saying a machine wrote the mail."""
    body = _report_text(mail)
    opening = _report_opening(body)
    if opening:
        return f"{opening} wording"
    return "text says it was generated automatically" if _MACHINE_WORDING.search(_own_text(body)) else None


_REPORT_EVIDENCE = ("message/delivery-status", "message/feedback-report", "text/rfc822-headers")
# Headers that mail systems put on the reports they write: Exchange marks its NDRs, and qmail
# records in its own Received line that it is bouncing.
_NDR_HEADER = "X-MS-Exchange-Message-Is-Ndr"
_QMAIL_BOUNCE = re.compile(r"\(qmail \d+ invoked for bounce\)", re.I)


def _evidence_in_content(mail: ParsedMail) -> str | None:
    """A machine wrote this mail, as the mail's own text says, whoever it says it is from."""
    template = _template_in_content(mail)
    if template:
        return template
    own = _own_text(_report_text(mail))
    # A subject that mail systems give their reports ("Undeliverable: ...", not "Fwd: Undeliverable")
    # and failure wording in the mail's own text: nobody writes both but a mail system.
    if _BOUNCE_SUBJECT.search(mail.subject) and _FAILURE_WORDING.search(own):
        return "report subject and wording"
    return None


# A mail that says of itself, at the start of a line of its own text, that a machine wrote it. On
# its own this makes no bounce (an order confirmation says it too): the text must also tell of a
# failed delivery (_bounce_text).
_MACHINE_WORDING = re.compile(
    r"^[ \t*#-]*+(?:this is an? (?:automatically generated|automated|auto-generated) "
    r"(?:message|notification|e-?mail|delivery status notification|report)"
    r"|this (?:message|e-?mail|notification) (?:was|has been|is) (?:automatically generated|generated automatically"
    r"|created automatically|automatically created|sent automatically|automatically sent)"
    r"|message from .{0,40}(?:virus ?wall|mail ?scanner|mail ?gateway|anti-?virus)"
    r"|dies ist eine automatisch (?:generierte|erstellte|erzeugte) (?:nachricht|e-?mail|benachrichtigung)"
    r"|diese (?:nachricht|e-?mail) wurde automatisch (?:erstellt|generiert|erzeugt|versendet)"
    r"|ceci est un (?:message|e-?mail|courriel) (?:généré )?automatique"
    r"|(?:este|éste) es un (?:mensaje|correo) (?:generado )?automático"
    r"|questo è un messaggio (?:generato )?automatico)",
    re.I | re.M,
)


# How mail systems open the reports they write for people, each matched at the start of a line.
# A person writes these words only by pasting a report in; quoting or forwarding one does not
# count (see _own_text).
_REPORT_OPENINGS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(r"^[ \t*#-]*+(?:" + pattern + ")", re.I | re.M))  # possessive: linear on "-----" lines
    for name, pattern in (
        ("Postfix", r"this is the (?:mail system|[\w .()/-]{0,60}program) at host"),
        ("qmail", r"hi\. (?:this is )?the [\w.-]+ program at|i'm afraid i wasn't able to deliver your message"
                  r"|this is a permanent error; i've given up"),
        ("Exim", r"this message was created automatically by mail delivery software"
                 r"|a message that you sent (?:could not be|has not yet been) delivered to one or more"
                 r"|smtp error from remote (?:mail )?server after"),
        ("Sendmail", r"the original message was received at .{0,100}\bfrom\b"
                     r"|the following addresses had (?:permanent fatal|transient non-fatal) errors"
                     r"|transcript of session follows"),
        ("Exchange", r"delivery has failed to these recipients or groups"
                     r"|your message did not reach some or all of the intended recipients"
                     r"|the following recipient\(s\) (?:cannot|could not) be reached"
                     r"|diagnostic information for administrators"
                     r"|remote server returned '\s*[45]\d\d"
                     r"|your message to \S+ couldn't be delivered"
                     r"|fehler bei der zustellung an diese empfänger oder gruppen"
                     r"|la remise à ces destinataires ou groupes a échoué"),
        ("IIS SMTP", r"this is an automatically generated delivery status notification"
                     r"|delivery to the following recipients failed"
                     r"|unable to deliver message to the following recipients"),
        ("Notes", r"was not delivered to:\s*$"
                  r"|user .{1,200} not listed in (?:domino directory|public name & address book)"),
        ("Gmail", r"delivery to the following recipients? (?:failed permanently|has been delayed)"
                  r"|\*\* (?:address not found|message not delivered|message blocked|delivery incomplete"
                  r"|message delayed) \*\*|the response from the remote server was:"
                  r"|your message wasn't delivered to \S+ because"),
        ("Yahoo", r"sorry, we were unable to deliver your message to the following address"
                  r"|unable to deliver message to the following address\(es\)"
                  r"|remote host said: [45]\d\d"),
        ("AOL", r"your mail to the following recipients could not be delivered"),
        ("Courier", r"this is a delivery status notification from \S+|running the courier mail server"),
        ("GroupWise", r"the message that you sent was undeliverable to the following"),
        ("MDaemon", r"the attached message had permanent fatal delivery errors"),
        ("Messaging Server", r"this report relates to a message you sent with the following header fields"
                             r"|your message cannot be delivered to the following recipients"),
        ("McAfee", r"the following addresses had delivery problems"),
        ("SMTP/32", r"undeliverable +to +\S+@\S+\s*$"),
        ("HotPOP", r"undeliverable address: +\S+@"),
        ("Road Runner", r"failed recipients ?-{3,}"),  # "------ Failed Recipients ------"
        ("Non-Delivery Report", r"non-delivery report ?-{2,}"),  # "--- Non-Delivery Report ---"
        ("report", r"could not deliver message to the following recipient\(s\):"
                   r"|your message has encountered delivery problems"
                   r"|sorry, unable to deliver your message to \S+ for"
                   r"|user's mailbox is full: <"),
        ("SMTP transcript", r"<?[^\s<>@]+@[^\s<>@]+>?\.\.\. (?:user unknown|unknown user|mailbox (?:full|unavailable)"
                            r"|host unknown|deferred)"
                            r"|.{0,200}\bhost \S+\[[0-9a-f.:]+\] said: [45]\d\d"),
    )
)


def _report_opening(body: str) -> str | None:
    """The mail system whose report wording the mail's own text has, or None."""
    own = _own_text(body)
    return next((name for name, pattern in _REPORT_OPENINGS if pattern.search(own)), None)


def _own_text(body: str) -> str:
    """The mail's own text: above any returned, quoted or forwarded message, without `>` lines."""
    lines = _before_returned_copy(body).splitlines()[:_OWN_TEXT_LINES]
    kept: list[str] = []
    for i, line in enumerate(lines):
        if is_separator(line) or is_forward_intro(line) or header_block_at(lines, i) is not None:
            break
        if not line.lstrip().startswith((">", "|")):
            kept.append(line[:_OWN_LINE_CHARS])
    return "\n".join(kept)


_OWN_TEXT_LINES = 200   # reports open with their wording; this keeps the search short
_OWN_LINE_CHARS = 1000


# --- reports -----------------------------------------------------------------------------

def _feedback_report(mail: ParsedMail) -> Classification | None:
    """An ARF report: declared so, or its machine-readable fields found in a part that some
    feedback loops label text/plain (RFC 5965 requires Feedback-Type, User-Agent and Version)."""
    parts = [text for ctype, text in mail.report_parts if ctype == "message/feedback-report"]
    if not parts:
        texts = [(mail.text or "")[:MAX_FIELD_TEXT],
                 *(_text_of(a.data) for a in mail.attachments if a.content_type == "text/plain")]
        parts = [text for text in texts if any(_is_arf_block(block) for block in _field_blocks(text))]
    if mail.report_type != "feedback-report" and not parts:
        return None
    recipients: list[str] = []
    for block in (b for text in parts for b in _field_blocks(text)):
        _add(recipients, [parse_mailbox(block.get("original-rcpt-to", "").strip("<> "))])
    return Classification(Kind.FEEDBACK, "ARF feedback report (RFC 5965)", tuple(recipients))


def _is_arf_block(block: dict[str, str]) -> bool:
    return "feedback-type" in block and "user-agent" in block and "version" in block


MAX_FIELD_TEXT = 64 * 1024


def _text_of(data: bytes) -> str:
    return data[:MAX_FIELD_TEXT].decode("utf-8", "replace")


def _delivery_report(mail: ParsedMail, evidence: str | None) -> Classification | None:
    text = _delivery_status_text(mail, evidence)
    if text is None:
        return None
    blocks = [b for b in _field_blocks(text) if "final-recipient" in b or "original-recipient" in b]
    outcomes = [_dsn_outcome(block) for block in blocks]
    for outcome, kind in (("failed", Kind.BOUNCE), ("delayed", Kind.DELAY)):
        failed = [block for block, o in zip(blocks, outcomes) if o == outcome]
        if failed:
            found: list[str] = []
            _add(found, (_dsn_address(block) for block in failed))
            body = _report_text(mail)
            recipients = tuple(found) or _failed_recipients(mail, body)
            status = next(filter(None, map(_dsn_status, failed)), None) or _status_in_text(body)
            return Classification(kind, f"DSN (RFC 3464), action {outcome}", recipients, status)
    if outcomes and all(o == "delivered" for o in outcomes):
        return Classification(Kind.AUTO_REPLY, "DSN (RFC 3464), action delivered")
    # No readable per-recipient status: the human-readable part has to tell.
    body = _report_text(mail)
    kind = Kind.DELAY if _DELAY.search(body) or _DELAY.search(mail.subject) else Kind.BOUNCE
    return Classification(kind, "DSN (RFC 3464) without recipient status", _failed_recipients(mail, body),
                          _status_in_text(body))


def _delivery_status_text(mail: ParsedMail, evidence: str | None) -> str | None:
    # Some gateways wrap the DSN they received in a message of their own; look inside only
    # when the outer mail is machine-sent too, never inside a person's forward.
    sources = [mail, *mail.attached_messages] if evidence else [mail]
    for source in sources:
        for ctype, text in source.report_parts:
            if ctype == "message/delivery-status":
                return text
    if mail.report_type == "delivery-status":
        return ""  # declared a DSN, but its status part is missing or unreadable
    return None


def _field_blocks(text: str) -> list[dict[str, str]]:
    """The header-style field groups of a report body (RFC 3464 / RFC 5965), names lowercased."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last is not None:
            current[last] += " " + line.strip()
        else:
            name, colon, value = line.partition(":")
            if colon:
                last = name.strip().lower()
                current.setdefault(last, value.strip())
    if current:
        blocks.append(current)
    return blocks


_ACTIONS = {
    "failed": "failed", "failure": "failed", "error": "failed",
    "delayed": "delayed",
    "delivered": "delivered", "relayed": "delivered", "expanded": "delivered",
}
_STATUS_CLASSES = {"5": "failed", "4": "delayed", "2": "delivered"}


def _dsn_outcome(block: dict[str, str]) -> str | None:
    words = block.get("action", "").lower().split()
    if words and words[0] in _ACTIONS:
        return _ACTIONS[words[0]]
    status = block.get("status", "").strip()
    return _STATUS_CLASSES.get(status[:1])


def _dsn_status(block: dict[str, str]) -> str | None:
    match = _ENHANCED_STATUS.search(block.get("status", ""))
    return match.group(0) if match else _status_in_text(block.get("diagnostic-code", ""))


def _dsn_address(block: dict[str, str]) -> str | None:
    # Original-Recipient is the address the sender used; Final-Recipient may be an alias target.
    for field in ("original-recipient", "final-recipient"):
        address_type, semicolon, address = block.get(field, "").partition(";")
        if not semicolon:
            address_type, address = "rfc822", address_type
        if address_type.strip().lower() in ("rfc822", ""):
            found = parse_mailbox(address.strip().strip("<>"))
            if found:
                return found
    return None


# --- bounces written for people ----------------------------------------------------------

# Wording of delivery failures, as reports write it (and as people may, talking about one).
_FAILURE_WORDS = (
    r"(?:could|can)(?: ?not|n't) be delivered|was(?: not|n't) delivered"
    r"|not (?:yet )?been delivered"
    r"|could not deliver|(?:unable|not able|wasn't able) to deliver|undeliverable|undelivered"
    r"|delivery (?:has )?failed|delivery failure|failed permanently|permanent (?:fatal )?error"
    r"|delivery status notification|non-delivery|returned mail|failed addresses"
    r"|(?:was|were|been) (?:automatically )?rejected"
    r"|delivery (?:problem|warning)|delayed mail|no such user|user unknown|mailbox unavailable"
    r"|无法发送|投递失败|传输失败|не (?:может быть )?доставлено"
)
_FAILURE_WORDING = re.compile(_FAILURE_WORDS, re.I)

# (name, pattern) found in the body of a machine-sent mail; the name goes into the reason.
_BOUNCE_TEXT: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.I))
    for name, pattern in (
        ("Postfix format", r"this is the (?:mail system|[\w .()/-]{0,60}program) at host"),
        ("qmail format", r"this is the qmail-send program|below this line is a copy of the message"),
        ("Exim format", r"created automatically by mail delivery software"
                        r"|a message that you sent (?:could not be|has not yet been) delivered"),
        ("Sendmail format", r"the original message was received at|addresses had permanent fatal errors"),
        ("Exchange NDR format", r"delivery has failed to these recipients"
                                r"|did not reach (?:the following|some or all of the intended) recipient"),
        ("Gmail format", r"delivery to the following recipients? (?:failed|has been delayed)"),
        ("Yahoo format", r"unable to deliver (?:your )?message to the following address"),
        ("AOL format", r"your mail to the following recipients could not be delivered"),
        ("delivery failure text", _FAILURE_WORDS),
    )
)

_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliverable|undelivered mail|delivery status notification|mail delivery (?:failed|failure)"
    r"|failure notice|returned mail|delivery failure|non-?delivery|delivery report|delayed mail"
    r"|mail failed|failed mail)",
    re.I,
)

_DELAY = re.compile(
    r"warning (?:message )?only|not yet been delivered|have not yet received|has been delayed"
    r"|delivery (?:has been )?delayed|\(delay\)|delayed mail|will continue (?:trying|to try|to attempt)"
    r"|delivery attempts will continue|will be retried|still being retried|(?:has been|was) postponed"
    r"|no need to resend|do not need to resend|do not resend",
    re.I,
)


def _bounce_text(mail: ParsedMail, evidence: str | None) -> Classification | None:
    if evidence is None:
        return None
    body = _report_text(mail)
    name = next((n for n, pattern in _BOUNCE_TEXT if pattern.search(body)), None)
    if name is None:
        opening = _report_opening(body)
        name = f"{opening} format" if opening else None
    if name is None and _BOUNCE_SUBJECT.search(mail.subject):
        name = "bounce subject"
    delayed = bool(_DELAY.search(body) or _DELAY.search(mail.subject))
    if name is None and delayed:
        name = "delay warning text"
    if name is None:
        return None
    kind = Kind.DELAY if delayed else Kind.BOUNCE
    return Classification(kind, f"{name}; {evidence}", _failed_recipients(mail, body),
                          _status_in_text(_before_returned_copy(body)))


# RFC 3463 enhanced status codes, and the basic SMTP reply code where a report quotes the
# remote server ("said: 550 ...", "550-...", "<user@x>... 550 User unknown").
_ENHANCED_STATUS = re.compile(r"(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?![\d.])")
_SMTP_CODE = re.compile(r"(?:^|said:|error:|\.\.\.|[>):])[ \t]*([45][0-5]\d)(?=[ \t-])", re.M | re.I)
# Wording with no code, as the common formats write it; each read as the code it stands for.
_STATUS_WORDING: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (status, re.compile(pattern, re.I))
    for status, pattern in (
        ("5.2.2", r"mailbox (?:is )?full|over (?:the )?quota|quota exceeded|exceeded (?:the |their |its )?"
                  r"(?:storage|quota)|insufficient (?:system )?storage"),
        ("5.1.1", r"user unknown|unknown user|no such (?:user|recipient|mailbox|address)|unknown recipient"
                  r"|(?:user|mailbox|address|account|recipient) (?:does not|doesn't) exist|invalid recipient"
                  r"|(?:recipient )?address rejected|not a valid (?:mailbox|recipient|user)|no mailbox here"
                  r"|mailbox (?:unavailable|not found)|unrouteable address|no longer (?:active|valid)"
                  r"|(?:recipient|user) name is not recognized|wasn't found at|address not found"
                  r"|address couldn't be found"),
        ("5.2.1", r"account (?:has been |is )?(?:disabled|suspended|closed|inactive)"),
        ("5.1.2", r"host (?:or domain name )?not found|domain (?:does not|doesn't) exist|no such domain"),
    )
)


def _status_in_text(text: str) -> str | None:
    """The first status a report's text gives for a failure."""
    match = _ENHANCED_STATUS.search(text)
    if match:
        return match.group(0)
    code = _SMTP_CODE.search(text)
    if code:
        return code.group(1)
    return next((status for status, pattern in _STATUS_WORDING if pattern.search(text)), None)


# Lines from which on a bounce quotes the returned message: addresses below are not failures.
_RETURNED_COPY = re.compile(
    r"original message(?! was received)|(?:this|attachment|below) is a copy of|^\W*a copy of"
    r"|below (?:this|the next) line"
    r"|returned mail follows|start of returned message|unsent message|header of the source mail"
    r"|message (?:header|headers|text) follows?|header of the original|message reads"
    r"|undelivered message you sent|header and top|non-delivered message|lines of your original"
    r"|forwarded message|mensaje original|old message:",
    re.I,
)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDR = rf"[^\s<>()\[\]\"',;:=@]+@{_LABEL}(?:\.{_LABEL})+"

# Where the common formats put a failed address; each pattern captures it as group 1.
_RECIPIENT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.I | re.M)
    for pattern in (
        # "<user@example.com>: reason", or the bracketed address alone (Postfix, qmail, Yahoo)
        rf"^[ \t]*<({_ADDR})>[ \t]*(?::|\(|$)",
        # the address first on its line: alone, bulleted, or followed by a reason (Exim, Gmail,
        # Exchange, Sendmail, GroupWise's "(user not found)")
        rf"^[ \t]*(?:[*>-]+[ \t]*)?[\[\"']?({_ADDR})[\]\"']?[ \t]*(?::|;|\.\.\.|[ \t]-[ \t]|[ \t]on[ \t]|[ \t]\(|$)",
        # labelled: "Failed Recipient: ..", "Unknown user: ..", "Recipient: [SMTP:..]", "SMTP=.."
        rf"(?:recipient|error-for|unknown user|undeliverable address|invalid final delivery userid"
        rf"|delivery failed \d+ attempts|undeliverable +to|smtp=)[ \t]*:?[ \t]*\[?(?:smtp:)?<?({_ADDR})",
        # a phrase naming it: "could not be delivered to\n user@..", "(generated from user@..)"
        rf"(?:delivered to|deliver (?:your )?message to|your message to|addressed(?: to|,)|generated from"
        rf"|expanded from|mailbox is full|local mailbox|this address)[ \t]*:?\s*[\"'<]?({_ADDR})",
    )
)


def _failed_recipients(mail: ParsedMail, body: str) -> tuple[str, ...]:
    found: list[str] = []
    for value in mail.headers.get_all("X-Failed-Recipients"):
        _add(found, (parse_mailbox(a.strip()) for a in value.split(",")))
    if found:
        return tuple(found)
    report = _before_returned_copy(body)
    candidates = sorted(
        (match.start(1), match.group(1)) for pattern in _RECIPIENT_PATTERNS for match in pattern.finditer(report)
    )
    _add(found, (parse_mailbox(candidate) for _, candidate in candidates))
    return tuple(found)


def _before_returned_copy(body: str) -> str:
    lines = body.splitlines()
    for index, line in enumerate(lines):
        if _RETURNED_COPY.search(line):
            return "\n".join(lines[:index])
    return "\n".join(lines)  # "\r\n" too: the patterns end lines with "$"


def _report_text(mail: ParsedMail) -> str:
    if mail.text and mail.text.strip():
        return mail.text
    return html_to_text(mail.html or "", as_written=True).text


def _add(found: list[str], addresses: Iterable[str | None]) -> None:
    for address in addresses:
        if address and address not in found:
            found.append(address)


# --- other automatic mail ----------------------------------------------------------------

_PRECEDENCE_AUTOMATIC = ("auto_reply",)
_PRECEDENCE_NOT_PERSONAL = ("bulk", "junk", "list")  # not a person's own mail, though a person may be behind it

# Headers whose presence (with any value but a negative one) marks machine-generated mail.
_AUTOMATIC_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoreply-From",
    "X-Mail-Autoreply",
    "X-FC-MachineGenerated",
    "X-Autogenerated",                  # GroupWise: Reply, Forward, Mirror, Group
    "X-MS-Exchange-Inbox-Rules-Loop",   # an Exchange inbox rule (auto-reply or auto-forward) sent it
)
_NEGATIVE_VALUES = ("no", "false", "0")

_LIST_HEADERS = ("List-Id", "List-Unsubscribe")

# Subject prefixes that responders write, by language. Each must be followed by a colon, a
# spaced dash, a bracket or the end of the subject, so "Out of office policy question" and
# "Auto-renewal of our licence" stay posts. Those that say the reply is automatic are responders'
# templates; those that only say someone is away a person may write too ("Out of office: ...").
_AUTOMATIC_REPLY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("en", r"auto(?=\s*:)"),                         # RFC 3834 suggests "Auto: "
    ("en", r"automatic reply"),                     # Outlook / Exchange
    ("en", r"auto[- ]?reply"),
    ("en", r"auto[- ]?response"),
    ("en", r"out of (?:the )?office auto[- ]?reply"),  # Exchange 2003: "Out of Office AutoReply: ..."
    ("de", r"automatische antwort"),
    ("fr", r"r[ée]ponse automatique"),
    ("es", r"respuesta autom[áa]tica"),
    ("it", r"risposta automatica"),
    ("nl", r"automatisch antwoord"),
    ("pt", r"resposta autom[áa]tica"),
    ("sv", r"automatiskt svar"),
    ("da/no", r"automatisk svar"),
    ("fi", r"automaattinen vastaus"),
    ("pl", r"(?:automatyczna odpowied[źz]|odpowied[źz] automatyczna)"),
    ("cs", r"automatick[áa] odpov[ěe][ďd]"),
    ("tr", r"otomatik yan[ıi]t"),
    ("hu", r"automatikus v[áa]lasz"),
    ("ru", r"автоматический ответ|автоответ"),
    ("uk", r"автоматична відповідь"),
    ("ja", r"自動応答|自動返信"),
    ("zh", r"自动回复|自动答复|自動回覆|自動回復"),
)
_ABSENCE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("en", r"out of (?:the )?office"),
    ("de", r"abwesenheitsnotiz"),
    ("sv", r"fr[åa]nvaro(?:meddelande)?"),
    ("da/no", r"frav[æa]rende"),
    ("fi", r"poissa toimistolta"),
    ("ja", r"不在(?:通知|のお知らせ)"),
)


def _subject_prefix(prefixes: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    return re.compile(r"^\s*(?:" + "|".join(p for _, p in prefixes) + r")\s*(?:[:：(\[]|[-–]\s|$)", re.I)


_AUTOMATIC_REPLY_SUBJECT = _subject_prefix(_AUTOMATIC_REPLY_PREFIXES)
_AUTO_SUBJECT = _subject_prefix(_AUTOMATIC_REPLY_PREFIXES + _ABSENCE_PREFIXES)
# Lotus Notes names the absent person instead: "Jane Doe/Sales/ACME is out of the office." (the
# whole subject, with no "Re:" or other prefix before it)
_NOTES_ABSENCE_SUBJECT = re.compile(r"^[^:]{1,120} is out of the office\.?\s*$", re.I)


def _automatic(mail: ParsedMail, sender: str | None, wording: bool) -> Classification | None:
    reason = (
        _auto_submitted(mail)
        or _precedence(mail, _PRECEDENCE_AUTOMATIC)
        or _vendor_header(mail)
        or _report_kind(mail)
        or ("null envelope sender" if _is_null(sender) else None)
        or _auto_subject(mail, _AUTOMATIC_REPLY_SUBJECT)
    )
    if reason is None and wording:
        reason = (_precedence(mail, _PRECEDENCE_NOT_PERSONAL) or _list_header(mail)
                  or _auto_subject(mail, _AUTO_SUBJECT) or _no_reply_sender(mail, sender))
    return Classification(Kind.AUTO_REPLY, reason) if reason else None


def no_automatic_answer(mail: ParsedMail) -> str | None:
    """Why no automatic answer (a notice) may go to this mail, by its headers, or None: those of
    automatic and list mail, and X-Auto-Response-Suppress, which asks exactly that (and so, while
    it never makes mail automatic, does stop an answer)."""
    suppress = (mail.headers.get("X-Auto-Response-Suppress") or "").strip()
    return (_auto_submitted(mail) or _precedence(mail, _PRECEDENCE_AUTOMATIC + _PRECEDENCE_NOT_PERSONAL)
            or _vendor_header(mail) or _list_header(mail)
            or (f"X-Auto-Response-Suppress: {suppress}" if suppress else None))


def _auto_submitted(mail: ParsedMail) -> str | None:
    value = mail.headers.get("Auto-Submitted")
    if value is None:
        return None
    keyword = re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()
    return None if keyword == "no" else f"Auto-Submitted: {value.strip()}"


def _precedence(mail: ParsedMail, values: tuple[str, ...]) -> str | None:
    for name in ("Precedence", "X-Precedence"):
        value = (mail.headers.get(name) or "").strip().lower().replace("-", "_")
        if value in values:
            return f"{name}: {value}"
    return None


def _vendor_header(mail: ParsedMail) -> str | None:
    for name in _AUTOMATIC_HEADERS:
        value = mail.headers.get(name)
        if value is not None and value.strip().lower() not in _NEGATIVE_VALUES:
            return f"{name}: {value.strip()}"
    return None


def _list_header(mail: ParsedMail) -> str | None:
    for name in _LIST_HEADERS:
        if name in mail.headers:
            return f"mailing list ({name})"
    return None


def _report_kind(mail: ParsedMail) -> str | None:
    """Read receipts (RFC 8098) and other machine-readable reports."""
    if mail.content_type == "multipart/report":
        return f"report ({mail.report_type or 'multipart/report'})"
    machine_parts = [ctype for ctype, _ in mail.report_parts if ctype != "text/rfc822-headers"]
    return f"report ({machine_parts[0]})" if machine_parts else None


def _auto_subject(mail: ParsedMail, prefixes: re.Pattern[str]) -> str | None:
    match = prefixes.match(mail.subject)
    if match:
        return f"subject starts with {match.group(0).strip()!r}"
    if prefixes is _AUTO_SUBJECT and _NOTES_ABSENCE_SUBJECT.match(mail.subject):
        return "subject names who is out of the office"
    return None


def _no_reply_sender(mail: ParsedMail, sender: str | None) -> str | None:
    candidates = [*mail.from_addresses, *([sender.strip().strip("<>")] if sender else [])]
    for address in candidates:
        if _NO_REPLY_LOCAL.search(_local_part(address)):
            return f"sender {address}"
    return None
