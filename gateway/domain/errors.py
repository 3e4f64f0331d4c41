"""Why the gateway refuses something, and how each channel says it.

Every refusal is a Refused carrying one Reason. The policy table gives each reason its SMTP
reply (used at end of DATA) and its enhanced status code; the human text is the exception's
message, the same line on stderr, in an SMTP reply and in a notice email. A refusal whose exact
reason must not reach the sender (it would tell a stranger something about an account) carries
that reason apart, as `record`, for the inbound outcome only staff see.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    NOT_STAFF = "not_staff"
    NO_ACCOUNT = "no_account"
    UNKNOWN_SENDER = "unknown_sender"
    STAFF_TO_SUPPORT = "staff_to_support"
    NO_SUCH_TICKET = "no_such_ticket"
    TICKET_CLOSED = "ticket_closed"
    ALREADY_DELEGATE = "already_delegate"
    IS_OWNER = "is_owner"
    NOT_A_DELEGATE = "not_a_delegate"
    NOT_ACCEPTED = "not_accepted"
    REVOKED = "revoked"
    NO_ACCESS = "no_access"
    SENDER_MISMATCH = "sender_mismatch"
    MULTIPLE_FROM = "multiple_from"
    NO_SENDER = "no_sender"
    NOTHING_NEW = "nothing_new"
    NO_INVITEES = "no_invitees"
    MALFORMED = "malformed"
    INVALID_INPUT = "invalid_input"
    ACCOUNT_EXISTS = "account_exists"
    NO_SUCH_MESSAGE = "no_such_message"  # operator commands: an inbound message or outbox copy
    ALREADY_ACTED = "already_acted"
    RAW_PURGED = "raw_purged"
    NOT_FAILED = "not_failed"


class GatewayError(Exception):
    """Root of the gateway's own errors."""


class Refused(GatewayError):
    """A rule says no. The message is one line a person can act on."""

    def __init__(self, reason: Reason, message: str, record: str | None = None):
        super().__init__(" ".join(message.split()))
        self.reason = reason
        self._record = record

    @property
    def text(self) -> str:
        """What the sender is told."""
        return str(self)

    @property
    def record(self) -> str:
        """What the recorded outcome says."""
        return self._record or self.text


class StorageUnavailable(GatewayError):
    """The database cannot be reached; the caller should try again later."""


# reason -> enhanced status code of the 550 reply at end of DATA
_SMTP_STATUS = {
    Reason.MALFORMED: "5.6.0",
    Reason.NO_SUCH_TICKET: "5.1.1",
    Reason.NO_ACCOUNT: "5.1.1",
}


def smtp_refusal(error: Refused) -> str:
    return f"550 {_SMTP_STATUS.get(error.reason, '5.7.1')} {_smtp_safe(error.text)}"


def _smtp_safe(text: str) -> str:
    """One printable ASCII line, short enough for any SMTP client."""
    line = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return line[:400]
