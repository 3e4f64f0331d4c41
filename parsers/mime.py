"""Raw message bytes -> ParsedMail. The one module that imports flanker.mime.

Nothing here does I/O. parse_message raises only MalformedMessage (the pipeline records the
message as refused with that reason), and only for what cannot be read at all: no bytes,
headers over MAX_HEADER_BYTES, more than MAX_PARTS parts, nesting deeper than MAX_DEPTH.

Everything else is decoded best-effort, never with an exception:
- flanker reads the structure. It is given the bytes as Latin-1 text (one character per
  byte), so it never guesses a charset for the whole message and every part's raw bytes
  can be had back exactly; when its strict scanner refuses a message (a multipart without
  its boundaries, a broken delivery report), the stdlib parser, which is lenient, reads it.
  Either reader's parts go through one walk (_read), which alone decides what is the text,
  the HTML, an attachment, a report part or an attached message.
- Transfer encodings are undone leniently (broken base64 is repaired, broken
  quoted-printable kept as it is), and text is decoded by decode_text: valid UTF-8 wins
  over any label but UTF-16/32, or none (mislabelled mail: Big5, GB2312, ISO-8859-x on UTF-8
  text), a declared charset Python knows is used when the bytes decode with it, one that
  does not fit or is unknown or absent is guessed (chardet), and only what still does not
  decode is replaced with U+FFFD. NUL characters are dropped.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.policy
import quopri
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from flanker import mime as _flanker_mime
from flanker.mime.message.errors import MimeError

from parsers.addresses import parse_mailbox_list

MAX_PARTS = 500
MAX_DEPTH = 8          # message/rfc822 inside message/rfc822 ... and multipart inside multipart
MAX_HEADER_BYTES = 256 * 1024  # the top header section; no mail client writes more than a few KB
MAX_HEADER_VALUE = 16 * 1024   # characters kept of one header value


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
    """Parse raw RFC 5322 bytes. Raises MalformedMessage (and nothing else) when they cannot
    be read at all; anything readable is decoded best-effort."""
    if not raw.strip():
        raise MalformedMessage("the message is empty")
    if _header_section_size(raw) > MAX_HEADER_BYTES:
        raise MalformedMessage(f"the headers are larger than {MAX_HEADER_BYTES} bytes")
    raw = _obsolete_field_names(raw)
    text = raw.decode("latin-1")  # one character per byte: flanker guesses nothing
    try:
        root = _flanker_mime.from_string(text)
        return _read(_FlankerPart(root), depth=0)
    except MalformedMessage:
        raise
    except (MimeError, RecursionError, Exception):  # noqa: BLE001
        pass  # flanker's scanner is strict (and has its own bugs): the stdlib parser reads what it refuses
    try:
        return _read(_StdlibPart(email.message_from_bytes(raw, policy=email.policy.compat32)), depth=0)
    except MalformedMessage:
        raise
    except (RecursionError, MemoryError) as exc:
        raise MalformedMessage(f"the message is nested too deeply ({type(exc).__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but MalformedMessage
        raise MalformedMessage(f"the message could not be parsed ({type(exc).__name__})") from exc


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MSG_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,255}")  # atext, dots and @: nothing a header could misread


def body_bytes(raw: bytes) -> bytes:
    """What follows the header block, with line endings made alike (empty when there is no body)."""
    match = _HEADER_END.search(raw)
    return raw[match.end():].replace(b"\r\n", b"\n").rstrip() if match else b""


# RFC 5322's obsolete syntax allows white space between a field's name and its colon ("From : x"):
# such a field is that field, not a line to drop. Read it so, or a second "From :" would hide.
_SPACED_FIELD_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.M)


def _obsolete_field_names(raw: bytes) -> bytes:
    end = _header_section_size(raw)
    header = raw[:end]
    if not _SPACED_FIELD_NAME.search(header):
        return raw
    return _SPACED_FIELD_NAME.sub(rb"\1:", header) + raw[end:]


def _header_section_size(raw: bytes) -> int:
    end = _HEADER_END.search(raw, 0, MAX_HEADER_BYTES + 4)
    return end.start() if end else min(len(raw), MAX_HEADER_BYTES + 1)


class _Part(Protocol):
    """One MIME part as a reader (flanker, or the stdlib's lenient parser) gives it to _read."""

    content_type: str   # as declared, lowercased
    body_type: str      # the type its body is read as

    def headers(self) -> Headers: ...
    def undecoded_headers(self) -> Headers: ...  # the address headers as sent (ADDRESS_HEADERS)
    def enclosed(self) -> _Part | None: ...  # a message/rfc822 part's message
    def children(self) -> Sequence[_Part] | None: ...  # a multipart's parts
    def report_text(self) -> str: ...
    @property
    def disposition(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def charset(self) -> str | None: ...
    @property
    def content_id(self) -> str | None: ...
    def data(self) -> bytes: ...


def _read(top: _Part, depth: int) -> ParsedMail:
    """The one walk over a message's parts, whichever parser read them: depth first, in order."""
    if depth > MAX_DEPTH:
        raise MalformedMessage("messages nested too deeply")
    text = html = None
    attachments: list[Attachment] = []
    attached: list[ParsedMail] = []
    reports: list[tuple[str, str]] = []
    stack: list[tuple[_Part, int]] = [(top, 0)]
    count = 0
    while stack:
        part, level = stack.pop()
        count += 1
        if count > MAX_PARTS:
            raise MalformedMessage(f"more than {MAX_PARTS} MIME parts")
        if level > MAX_DEPTH:
            raise MalformedMessage("MIME parts nested too deeply")
        ctype = part.content_type
        enclosed = part.enclosed()
        if enclosed is not None:
            attached.append(_read(enclosed, depth + 1))
            continue
        if ctype in REPORT_TYPES:
            reports.append((ctype, part.report_text()))
            continue
        children = part.children()
        if children is not None:
            stack.extend((child, level + 1) for child in reversed(children))
            continue
        disposition = part.disposition
        filename = part.filename
        is_attachment = disposition == "attachment" or (bool(filename) and ctype not in ("text/plain", "text/html"))
        body_type = part.body_type
        if body_type == "text/plain" and text is None and not is_attachment:
            text = decode_text(part.data(), part.charset)
        elif body_type == "text/html" and html is None and not is_attachment:
            html = decode_text(part.data(), part.charset)
        else:
            attachments.append(Attachment(filename=filename or "attachment", content_type=body_type, data=part.data(),
                                          inline=disposition == "inline", content_id=part.content_id))
    return _mail(top.headers(), top.undecoded_headers(), top.content_type, text, html, attachments, attached, reports)


class _FlankerPart:
    """A part as flanker read it (its strict scanner: the first reader tried)."""

    def __init__(self, part) -> None:
        self._part = part
        self.content_type = str(part.content_type).lower()
        self.body_type = self.content_type

    def headers(self) -> Headers:
        return Headers(tuple((_clean(str(k)), _header_text(v)) for k, v in self._part.headers.items()))

    def undecoded_headers(self) -> Headers:
        return Headers(tuple((_clean(str(k)), _clean(_relatin(v))) for k, v in self._part.headers.iteritems(raw=True)
                             if k.lower() in ADDRESS_HEADERS and isinstance(v, str)))

    def enclosed(self) -> _FlankerPart | None:
        if self.content_type == "message/rfc822" and self._part.enclosed is not None:
            return _FlankerPart(self._part.enclosed)
        return None

    def children(self) -> list[_FlankerPart] | None:
        if self.content_type.startswith("multipart/"):
            return [_FlankerPart(p) for p in self._part.parts]
        return None

    def report_text(self) -> str:
        """flanker parses some report types as enclosed header blocks rather than text bodies."""
        part = self._part
        if getattr(part, "enclosed", None) is not None and part.body is None:
            raw = part.enclosed.to_string()
            if isinstance(raw, str):
                raw = raw.encode("latin-1", "replace")
            return decode_text(raw, None)
        return decode_text(self.data(), self.charset)

    @property
    def disposition(self) -> str:
        value = self._part.content_disposition
        return (value[0] or "").lower() if value else ""

    @property
    def filename(self) -> str:
        return _clean(self._part.detected_file_name or "")

    @property
    def charset(self) -> str | None:
        try:
            return self._part.content_type.params.get("charset")
        except AttributeError:
            return None

    @property
    def content_id(self) -> str | None:
        return _content_id(_clean(str(self._part.headers.get("Content-Id") or "")))

    def data(self) -> bytes:
        """The body with its transfer encoding undone."""
        part = self._part
        raw = _raw_body(part)
        if raw is None:  # not a parsed stream: fall back to what flanker decodes
            body = part.body
            if body is None:
                return b""
            return body.encode("utf-8") if isinstance(body, str) else bytes(body)
        encoding = ""
        try:
            encoding = str(part.content_encoding.value or "")
        except (AttributeError, TypeError, ValueError):
            pass
        return decode_transfer(raw, encoding)


# Address headers are parsed as sent, before RFC 2047 decoding (parsers.addresses.parse_mailbox_list).
ADDRESS_HEADERS = ("from", "to", "cc")


def _mail(headers: Headers, undecoded: Headers, content_type: str, text: str | None, html: str | None,
          attachments: list[Attachment], attached: list[ParsedMail],
          reports: list[tuple[str, str]]) -> ParsedMail:
    return ParsedMail(
        headers=headers,
        content_type=content_type,
        message_id=_strip_brackets(headers.get("Message-ID")),
        subject=headers.get("Subject") or "",
        from_addresses=_addresses(undecoded.get_all("From")),
        to_addresses=_addresses(undecoded.get_all("To")),
        cc_addresses=_addresses(undecoded.get_all("Cc")),
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
        return _clean(_relatin(rendered))
    return _clean(_relatin(str(value)))


def _relatin(value: str) -> str:
    """Raw 8-bit bytes in a header reach us as Latin-1 characters (see parse_message): decode
    them as what they are. Text from encoded words ("=?utf-8?...") is already right."""
    if value.isascii():
        return value
    try:
        data = value.encode("latin-1")
    except UnicodeEncodeError:
        return value  # decoded encoded words
    return decode_text(data, None)


def _clean(value: str) -> str:
    return value.replace("\x00", "")[:MAX_HEADER_VALUE]


def _raw_body(part) -> bytes | None:
    """The part's body bytes as they were sent (transfer encoding still on), or None."""
    read = getattr(getattr(part, "_container", None), "read_body", None)
    if read is None:
        return None
    body = read()
    if isinstance(body, bytes):
        return body
    try:
        return body.encode("latin-1")
    except UnicodeEncodeError:
        return body.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------
# Transfer encodings and charsets, best-effort


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding without ever raising: base64 with junk, missing or
    extra padding is repaired; quoted-printable with broken escapes keeps them as text."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        return _base64(data)
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _base64(data: bytes) -> bytes:
    core = data.split(b"=", 1)[0] if b"=" in data.rstrip().rstrip(b"=") else data
    core = _NOT_BASE64.sub(b"", core)
    core = core[: len(core) - len(core) % 4] if len(core) % 4 == 1 else core
    core += b"=" * (-len(core) % 4)
    try:
        return binascii.a2b_base64(core)
    except (binascii.Error, ValueError):
        return b""


# Labels seen in mail that Python does not know, or knows as something narrower than what
# the senders' software really writes (WHATWG's encoding standard does the same).
CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252", "iso-8859-8-i": "iso-8859-8",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030",
    "big5": "big5hkscs", "x-sjis": "cp932", "shift-jis": "cp932", "shift_jis": "cp932", "sjis": "cp932",
    "windows-31j": "cp932", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "euc-kr": "cp949",
    "windows-874": "cp874", "tis-620": "cp874", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic", "unicode-1-1-utf-7": "utf-7", "x-unicode20utf8": "utf-8",
    "utf8": "utf-8", "x-utf8": "utf-8", "x-user-defined": "cp1252", "unknown-8bit": "cp1252",
    "x-unknown": "cp1252", "unknown": "cp1252", "default": "cp1252", "charset": "cp1252",
}
# labels whose text may be valid UTF-8 as well (ASCII in UTF-16 has NUL bytes, all valid UTF-8)
_WIDE_UNICODE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})


def _codec(label: str | None) -> str | None:
    """The Python text codec for a charset label, or None if there is none."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in ("unicode-escape", "raw-unicode-escape",
                                                                    "idna", "punycode"):
        return None
    return info.name


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes of a text part or header -> str, whatever the label says; never raises.

    Valid UTF-8 wins over any label but UTF-16/32 (whose text may be valid UTF-8 too): legacy
    text of any length is almost never valid UTF-8, while clients often label UTF-8 with the
    charset of the system (Big5, GB2312, ISO-8859-x). Then the label, when the bytes decode with
    it; else the detector's guess; only then a decoding that replaces what it cannot read."""
    declared = _codec(charset)
    if not data.isascii() and declared not in _WIDE_UNICODE:
        try:
            return data.decode("utf-8").replace("\x00", "")
        except UnicodeDecodeError:
            pass
    if declared is not None:
        try:
            return data.decode(declared).replace("\x00", "")
        except (UnicodeDecodeError, ValueError, LookupError):
            pass
    if not data.isascii() and not (declared == "utf-8" and _mostly_utf8(data)):
        guessed = _guess(data, _GUESS_CONFIDENCE.get(declared, 0.0))
        if guessed is not None:
            return guessed.replace("\x00", "")
    fallback = declared or ("utf-8" if _mostly_utf8(data) else "cp1252")
    try:
        return data.decode(fallback, errors="replace").replace("\x00", "")
    except (ValueError, LookupError):
        return data.decode("utf-8", errors="replace").replace("\x00", "")


MAX_GUESS_BYTES = 64 * 1024


# How sure the detector must be. Unlabelled: sure (short Western text is guessed as anything, and
# Windows-1252 reads it better). Labelled UTF-8 that is not: fairly (a few broken bytes are broken
# UTF-8, kept with U+FFFD). A legacy label that does not fit: any guess that fits beats it.
_GUESS_CONFIDENCE: dict[str | None, float] = {None: 0.5, "utf-8": 0.2}


def _guess(data: bytes, least_confidence: float) -> str | None:
    """Charset detection for non-UTF-8 text that is unlabelled, or does not decode with its label.
    The guess counts only when all of the text decodes with it (chardet 7 often names the right
    charset with a low confidence; see _GUESS_CONFIDENCE)."""
    try:
        import chardet  # maintained (7.x), and flanker's own dependency
        found = chardet.detect(data[:MAX_GUESS_BYTES])
    except Exception:  # noqa: BLE001 - detection is a bonus, never a failure
        return None
    confident = found and (found.get("confidence") or 0) >= least_confidence
    codec = _codec(found.get("encoding")) if confident else None
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, ValueError, LookupError):
        return None


def _mostly_utf8(data: bytes) -> bool:
    """Invalid UTF-8 that is still mostly UTF-8 (a few bad bytes) decodes as UTF-8 with U+FFFD."""
    text = data[:MAX_GUESS_BYTES].decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    return bad < sum(1 for c in text if ord(c) > 127) - bad


def _content_id(value: str | None) -> str | None:
    """A part's Content-ID, when it is a plain msg-id (RFC 2392) that can go into a header as it is."""
    content_id = _strip_brackets(value)
    return content_id if content_id and _MSG_ID.fullmatch(content_id) else None


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


# ---------------------------------------------------------------------------------------
# The lenient reader, for what flanker's strict scanner refuses


class _StdlibPart:
    """A part as the stdlib's lenient parser read it (compat32: 8-bit bytes kept as surrogate escapes)."""

    def __init__(self, part, top: bool = True) -> None:
        self._part = part
        self._top = top
        self.content_type = part.get_content_type().lower()
        unparsed = not isinstance(part.get_payload(), list)
        # a multipart without its boundary: its body is all there is
        self.body_type = "text/plain" if unparsed and self.content_type.startswith(("multipart/", "message/")) \
            else self.content_type

    def headers(self) -> Headers:
        return Headers(tuple((_clean(str(k)), _stdlib_header(v)) for k, v in self._part.items()))

    def undecoded_headers(self) -> Headers:
        return Headers(tuple((_clean(str(k)), _clean(" ".join(decode_text(_to_bytes(str(v)), None).split())))
                             for k, v in self._part.items() if str(k).lower() in ADDRESS_HEADERS))

    def enclosed(self) -> _StdlibPart | None:
        """A message/rfc822 part's message; the top message's own body is read as its parts."""
        payload = self._part.get_payload()
        if self.content_type == "message/rfc822" and not self._top and isinstance(payload, list) and payload:
            return _StdlibPart(payload[0])
        return None

    def children(self) -> list[_StdlibPart] | None:
        payload = self._part.get_payload()
        return [_StdlibPart(p, top=False) for p in payload] if isinstance(payload, list) else None

    def report_text(self) -> str:
        payload = self._part.get_payload()
        if isinstance(payload, list):
            return "\n".join(_stdlib_header_block(p) for p in payload)
        return decode_text(self.data(), self.charset)

    @property
    def disposition(self) -> str:
        return (self._part.get_content_disposition() or "").lower()

    @property
    def filename(self) -> str:
        return _clean(_stdlib_header(self._part.get_filename() or ""))

    @property
    def charset(self) -> str | None:
        return _param(self._part, "charset")

    @property
    def content_id(self) -> str | None:
        return _content_id(_stdlib_header(self._part.get("Content-ID") or ""))

    def data(self) -> bytes:
        """The body with its transfer encoding undone."""
        payload = self._part.get_payload()
        if not isinstance(payload, str):
            return b""
        return decode_transfer(_to_bytes(payload), str(self._part.get("Content-Transfer-Encoding") or ""))


def _param(part, name: str) -> str | None:
    value = part.get_param(name)
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        value = value[2]
    return str(value) if value is not None else None


def _to_bytes(value: str) -> bytes:
    """compat32 keeps 8-bit bytes as surrogate escapes: get them back."""
    return value.encode("utf-8", "surrogateescape")


def _stdlib_header(value) -> str:
    from flanker.mime.message.headers.encodedword import mime_to_unicode

    raw = decode_text(_to_bytes(str(value)), None)
    try:
        decoded = mime_to_unicode(raw)
    except Exception:  # noqa: BLE001 - keep the undecoded text
        decoded = raw
    return _clean(" ".join(str(decoded).split()))


def _stdlib_header_block(part) -> str:
    lines = [f"{k}: {_stdlib_header(v)}" for k, v in part.items()]
    return "\n".join(lines)
