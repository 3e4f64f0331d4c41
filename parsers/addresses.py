"""Email addresses: strict parsing, and the gateway's own verifiable addresses.

The gateway's addresses carry a keyed MAC so that nobody can forge or guess one:

    r-<ticket>-<account>-<mac>@domain   reply address of one account on one ticket
    i-<ticket>-<account>-<mac>@domain   a staff member's invite address on one ticket
    b-<outbox>-<mac>@domain             VERP envelope sender of one outbound copy

The MAC is lowercase base32 so that it survives mail systems that change case, and no
address uses "+", which some systems drop. Local parts stay well within 64 characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import idna

MAC_CHARS = 20  # 100 bits
# RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets; no longer address can be
# written to (or stored: accounts keep addresses whole)
MAX_ADDRESS_OCTETS = 254


def _flanker_address():
    """flanker's address parser, imported when an address is first parsed: it takes about 0.2 s to load,
    and most `gateway` commands never parse one."""
    from flanker.addresslib import address

    return address


def parse_mailbox(text: str | None) -> str | None:
    """One mailbox (with or without display name) -> its normalized addr-spec, or None."""
    if not text:
        return None
    parsed = _flanker_address().parse(text, addr_spec_only=False, strict=True)
    if parsed is None or getattr(parsed, "addr_type", "email") != "email":
        return None
    return _usable(_as_written([parsed], text)[0])


def parse_mailbox_list(text: str | None) -> list[str]:
    """A header value with any number of mailboxes -> their normalized addr-specs.

    `text` is the value as it was sent: RFC 2047 encoded words still encoded, so that a display
    name which decodes to a comma ("Müller, Bernd") or to an address is never read as one. What
    the strict grammar refuses is read leniently only when it is one mailbox beyond doubt (see
    lenient_mailbox). An address longer than RFC 5321 allows makes the header name none."""
    if not text:
        return []
    parsed, unparsed = _flanker_address().parse_list(text, strict=True, as_tuple=True)
    if unparsed:
        lenient = lenient_mailbox(text)
        if lenient:
            return [lenient]
    emails = [a for a in parsed if getattr(a, "addr_type", "email") == "email"]
    found = [_usable(a) for a in _as_written(emails, text)]
    if None in found:  # never fewer mailboxes than the header names
        return []
    return [a for a in found if a is not None]


def lenient_mailbox(text: str) -> str | None:
    """A display name with unquoted specials ("Foo Bar [Support] <a@b.example>", "Müller, Bernd
    <b@example.com>") before exactly one address in angle brackets -> that address, or None.

    Unambiguous means: one "<" and one ">" outside quoted strings and comments, nothing but
    white space after the ">", no "@" in the name (it could be a second mailbox), and an
    addr-spec inside that the strict grammar takes."""
    outside = _outside_quotes_and_comments(text)
    if outside is None or outside.count("<") != 1 or outside.count(">") != 1:
        return None
    opening, closing = outside.index("<"), outside.index(">")
    if closing < opening or outside[closing + 1:].strip() or "@" in outside[:opening]:
        return None
    addr_spec = text[opening + 1:closing].strip()
    parsed = _flanker_address().parse(addr_spec, addr_spec_only=True, strict=True)
    if parsed is None or getattr(parsed, "addr_type", "email") != "email":
        return None
    return _usable(_as_written([parsed], addr_spec)[0])


_WRITTEN_DOMAIN = re.compile(r'@\s*(\[[^\]]*\]|[^\s<>()\[\],;:"@\\]+)')


def _as_written(parsed: list, text: str) -> list[str | None]:
    """Flanker's addresses, in order, each normalized from its domain as `text` writes it.

    Flanker lowercases a domain with str.lower(), which folds some other characters onto ASCII
    letters (KELVIN SIGN becomes "k"). So each address takes the next domain written in `text`
    (outside quoted strings and comments) that flanker's reads as, and is normalized from what is
    written: a domain that only a fold makes valid is no domain, and its address is None."""
    written = _WRITTEN_DOMAIN.findall(_outside_quotes_and_comments(text) or text)
    found: list[str | None] = []
    start = 0
    for address in parsed:
        read = a_labels(address.hostname)
        at = next((i for i in range(start, len(written)) if a_labels(written[i].lower()) == read), None)
        domain = a_labels(written[at]) if at is not None and read is not None else None
        start = start if at is None else at + 1
        found.append(f"{_ascii_lower(address.mailbox)}@{domain}" if domain is not None else None)
    return found


def _outside_quotes_and_comments(text: str) -> str | None:
    """`text` with every character inside a quoted string or a comment blanked (same length);
    None when a quote or comment is left open."""
    kept: list[str] = []
    quoted = escaped = False
    depth = 0
    for char in text:
        inside = quoted or depth > 0
        if escaped:
            escaped = False
        elif inside and char == "\\":
            escaped = True
        elif char == '"' and depth == 0:
            quoted = not quoted
            inside = True
        elif char == "(" and not quoted:
            depth += 1
            inside = True
        elif char == ")" and depth > 0:
            depth -= 1
            inside = True
        kept.append(" " if inside else char)
    return None if quoted or depth or escaped else "".join(kept)


def normalize(address: str) -> str:
    """An address in the one form the gateway stores and compares: ASCII letters lowercased and no
    other character changed (no Unicode case or compatibility folding: KELVIN SIGN is not "k"), an
    internationalised domain as its A-labels ("bücher.test" -> "xn--bcher-kva.test"). A domain that
    is not a valid IDN stays as written, so it can match no stored address."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return _ascii_lower(domain)
    return f"{_ascii_lower(local)}@{a_labels(domain) or _ascii_lower(domain)}"


def a_labels(domain: str) -> str | None:
    """A domain in ASCII lowercase, its internationalised labels as A-labels (IDNA 2008, without the
    UTS 46 mapping, which folds); None when it is not a valid domain name."""
    domain = _ascii_lower(domain)
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def is_ascii_address(address: str) -> bool:
    """Whether an address, normalized, is all ASCII: whether it can be sent to without SMTPUTF8."""
    local, _, domain = normalize(address).rpartition("@")
    return local.isascii() and domain.isascii()


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def _usable(address: str | None) -> str | None:
    """A normalized address within RFC 5321's limit, else None: a shortened address would be another's."""
    if address is None:
        return None
    return address if len(address.encode("utf-8", "surrogateescape")) <= MAX_ADDRESS_OCTETS else None


_CANDIDATE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def addresses_in_text(text: str) -> list[str]:
    """Addresses written in free text, in order of appearance, each once."""
    found: list[str] = []
    for match in _CANDIDATE.finditer(text):
        candidate = parse_mailbox(match.group(0).strip(".'"))
        if candidate and "." in candidate.rsplit("@", 1)[1] and candidate not in found:
            found.append(candidate)
    return found


def _mac(key: bytes, purpose: str, *parts: int) -> str:
    message = ":".join([purpose, *map(str, parts)]).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:MAC_CHARS]


@dataclass(frozen=True)
class SupportRoute:
    pass


@dataclass(frozen=True)
class ReplyRoute:
    ticket: int
    account: int


@dataclass(frozen=True)
class InviteRoute:
    ticket: int
    account: int


@dataclass(frozen=True)
class BounceRoute:
    outbox: int


Route = SupportRoute | ReplyRoute | InviteRoute | BounceRoute


@dataclass(frozen=True)
class Served:
    """An address the gateway serves: the one form it writes it in, and what it means."""

    address: str
    route: Route

    @property
    def ticket(self) -> int | None:
        return self.route.ticket if isinstance(self.route, (ReplyRoute, InviteRoute)) else None

_TOKEN = re.compile(r"^(?P<kind>[rib])-(?P<a>[0-9]{1,12})(?:-(?P<b>[0-9]{1,12}))?-(?P<mac>[a-z2-7]{%d})$" % MAC_CHARS)
_CANONICAL_NUMBER = re.compile(r"0|[1-9][0-9]*")  # as the gateway writes numbers: 7, never 007


# the Message-IDs the gateway makes: "<kind>.<32 hex>[.<recipient id>]@<domain>" (message_id, copy_message_ids)
_OUR_MESSAGE_ID = re.compile(r"^[a-z_]+\.[0-9a-f]{32}(\.[0-9]+)?$")


class AddressBook:
    """Makes and reads the gateway's addresses for one mail domain and secret key."""

    def __init__(self, key: bytes, domain: str, support_address: str):
        self._key = key
        self.domain = domain.lower()
        self.support_address = normalize(support_address)

    def reply_address(self, ticket: int, account: int) -> str:
        return f"r-{ticket}-{account}-{_mac(self._key, 'reply', ticket, account)}@{self.domain}"

    def invite_address(self, ticket: int, account: int) -> str:
        return f"i-{ticket}-{account}-{_mac(self._key, 'invite', ticket, account)}@{self.domain}"

    def bounce_address(self, outbox: int) -> str:
        return f"b-{outbox}-{_mac(self._key, 'bounce', outbox)}@{self.domain}"

    def is_ours(self, address: str) -> bool:
        """The support address, or anything shaped like a gateway address, valid or not.

        Only the shape counts, not the domain alone: the gateway may share its domain with people."""
        address = normalize(address.strip().strip("<>"))
        local, _, domain = address.rpartition("@")
        return address == self.support_address or (domain == self.domain and bool(_TOKEN.match(local)))

    def served(self, address: str) -> Served | None:
        """The address read once: its one form and its route, or None when the gateway serves none.
        route() serves only that form, in any ASCII case, so it is the address normalized."""
        route = self.route(address)
        return None if route is None else Served(normalize(address.strip().strip("<>")), route)

    def message_id(self, kind: str) -> str:
        """A new Message-ID for one message of `kind` (the name of a template)."""
        return f"{kind}.{secrets.token_hex(16)}@{self.domain}"

    def copy_message_ids(self, kind: str) -> tuple[str, str]:
        """Prefix and suffix of the Message-IDs of one post's copies, around each recipient's id:
        one random part for the post, so that each copy's is unique."""
        return f"{kind}.{secrets.token_hex(16)}.", f"@{self.domain}"

    def is_our_message_id(self, message_id: str | None) -> bool:
        """A Message-ID the gateway made (message_id, copy_message_ids)."""
        local, _, domain = (message_id or "").lower().rpartition("@")
        return domain == self.domain and bool(_OUR_MESSAGE_ID.match(local))

    def route(self, address: str) -> Route | None:
        """What an envelope recipient means, or None when the gateway does not serve it.

        A gateway address is taken only in the form the gateway writes it (ASCII letters in any
        case): an alias of it, such as a zero-padded number, is an address the gateway does not serve."""
        address = address.strip().strip("<>")
        if normalize(address) == self.support_address:
            return SupportRoute()
        local, _, domain = address.rpartition("@")
        if normalize(domain) != self.domain or not local.isascii():
            return None
        match = _TOKEN.match(local.lower())
        if not match or not all(_CANONICAL_NUMBER.fullmatch(n) for n in (match["a"], match["b"]) if n is not None):
            return None
        kind, a, b, mac = match["kind"], int(match["a"]), match["b"], match["mac"]
        if kind == "b":
            if b is not None:
                return None
            expected = _mac(self._key, "bounce", a)
            return BounceRoute(a) if hmac.compare_digest(mac, expected) else None
        if b is None:
            return None
        purpose = "reply" if kind == "r" else "invite"
        if not hmac.compare_digest(mac, _mac(self._key, purpose, a, int(b))):
            return None
        return ReplyRoute(a, int(b)) if kind == "r" else InviteRoute(a, int(b))


def redact(address: str) -> str:
    """An address fit for logs: the MAC of a gateway address is replaced by an ellipsis."""
    local, at, domain = address.rpartition("@")
    match = _TOKEN.match(local.lower())
    if not match:
        return address
    return f"{local[: match.start('mac')]}...{at}{domain}"


class LinkSigner:
    """Accept-link tokens and the nonce the confirmation form must send back."""

    def __init__(self, key: bytes):
        self._key = key

    def accept_token(self, delegate_id: int) -> str:
        return f"{delegate_id}-{_mac(self._key, 'accept', delegate_id)}"

    def read_accept_token(self, token: str) -> int | None:
        match = re.fullmatch(r"(\d{1,12})-([a-z2-7]{%d})" % MAC_CHARS, token or "")
        if not match:
            return None
        delegate_id = int(match[1])
        return delegate_id if hmac.compare_digest(match[2], _mac(self._key, "accept", delegate_id)) else None

    def form_nonce(self, delegate_id: int) -> str:
        return _mac(self._key, "accept-form", delegate_id)

    def check_form_nonce(self, delegate_id: int, nonce: str | None) -> bool:
        return bool(nonce) and hmac.compare_digest(nonce or "", self.form_nonce(delegate_id))
