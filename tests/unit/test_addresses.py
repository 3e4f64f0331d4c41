"""Reply, invite and bounce addresses: verifiable, unforgeable, within 64 characters, no '+'."""

import pytest

from parsers.addresses import (
    AddressBook,
    BounceRoute,
    InviteRoute,
    LinkSigner,
    ReplyRoute,
    SupportRoute,
    addresses_in_text,
    normalize,
    parse_mailbox,
    parse_mailbox_list,
    redact,
)

KEY = b"k" * 40


@pytest.fixture
def book() -> AddressBook:
    return AddressBook(KEY, "gw.test", "support@gw.test")


def test_reply_address_routes_back_to_its_ticket_and_account(book):
    address = book.reply_address(123, 4567)
    assert book.route(address) == ReplyRoute(123, 4567)
    local = address.split("@")[0]
    assert len(local) <= 64 and "+" not in address


def test_addresses_survive_case_changes_by_mail_systems(book):
    assert book.route(book.reply_address(7, 8).upper()) == ReplyRoute(7, 8)


def test_largest_ids_stay_within_64_characters(book):
    assert len(book.reply_address(999_999_999_999, 999_999_999_999).split("@")[0]) <= 64


@pytest.mark.parametrize("tamper", [
    lambda a: a.replace("r-12-", "r-13-"),          # another ticket
    lambda a: a.replace("-34-", "-35-"),            # another account
    lambda a: a[:-len("@gw.test") - 1] + ("a" if a[-len("@gw.test") - 1] != "a" else "b") + "@gw.test",
    lambda a: a.replace("r-", "i-"),                # a reply token used as an invite token
    lambda a: a.replace("@gw.test", "@other.test"),
])
def test_tampered_addresses_are_not_served(book, tamper):
    address = book.reply_address(12, 34)
    assert book.route(tamper(address)) is None


def test_another_key_makes_other_addresses(book):
    other = AddressBook(b"z" * 40, "gw.test", "support@gw.test")
    assert other.route(book.reply_address(1, 2)) is None


def test_invite_support_and_bounce_routes(book):
    assert book.route(book.invite_address(5, 6)) == InviteRoute(5, 6)
    assert book.route("Support@GW.test") == SupportRoute()
    assert book.route(book.bounce_address(99)) == BounceRoute(99)
    assert book.route("someone@gw.test") is None


def test_accept_tokens_and_form_nonces():
    links = LinkSigner(KEY)
    token = links.accept_token(41)
    assert links.read_accept_token(token) == 41
    assert links.read_accept_token(token.replace("41-", "42-")) is None
    assert links.read_accept_token("41-" + "a" * 20) is None
    assert links.read_accept_token("") is None
    assert links.check_form_nonce(41, links.form_nonce(41))
    assert not links.check_form_nonce(41, links.form_nonce(42))
    assert not links.check_form_nonce(41, None)


def test_display_name_never_decides_the_address():
    assert parse_mailbox('"olivia@client.test" <eve@evil.test>') == "eve@evil.test"


def test_strict_parsing_refuses_junk():
    assert parse_mailbox("not an address") is None
    assert parse_mailbox_list("a@b.test, Bob <C@D.test>") == ["a@b.test", "c@d.test"]


def test_addresses_written_in_text_each_once_in_order():
    text = "Please add bob@example.com, <carol@shop.example.org> and bob@example.com.\nThanks"
    assert addresses_in_text(text) == ["bob@example.com", "carol@shop.example.org"]


def test_logs_never_show_a_token(book):
    address = book.reply_address(12, 34)
    mac = address.split("@")[0].rsplit("-", 1)[1]
    assert redact(address) == "r-12-34-...@gw.test" and mac not in redact(address)
    assert redact("someone@else.test") == "someone@else.test"


def test_only_gateway_shaped_addresses_count_as_ours(book):
    assert book.is_ours("support@gw.test") and book.is_ours(book.reply_address(1, 2))
    assert book.is_ours("r-1-2-" + "a" * 20 + "@gw.test")  # shaped like ours, even with a bad MAC
    assert not book.is_ours("sam@gw.test")  # a person may share the gateway's domain
    assert not book.is_ours("r-1-2-" + "a" * 20 + "@other.test")


def test_our_message_ids_are_recognised(book):
    assert book.is_our_message_id("post.0123456789abcdef0123456789abcdef@gw.test")
    assert not book.is_our_message_id("post.0123456789abcdef0123456789abcdef@other.test")
    assert not book.is_our_message_id("CAF=abc@mail.gmail.com")
    assert not book.is_our_message_id(None)



@pytest.mark.parametrize("alias", [
    lambda a, n: a.replace("r-12-", "r-012-", 1),                 # zero-padded ticket
    lambda a, n: a.replace(f"-{n}-", f"-00{n}-", 1),              # zero-padded account
    lambda a, n: a.replace("r-12-", "r-\u0661\u0662-", 1),        # the same number in Arabic-Indic digits
    lambda a, n: a[:a.rindex("k")] + "\u212a" + a[a.rindex("k") + 1:],  # KELVIN SIGN, which lowercases to "k"
])
def test_only_the_form_the_gateway_writes_is_served(book, alias):
    account = next(n for n in range(1, 1000) if "k" in book.reply_address(12, n).split("-")[-1])
    address = book.reply_address(12, account)
    assert book.route(address) == ReplyRoute(12, account)
    assert book.route(alias(address, account)) is None and book.served(alias(address, account)) is None


def test_padded_bounce_addresses_are_not_served(book):
    assert book.route(book.bounce_address(5).replace("b-5-", "b-05-")) is None


def test_every_served_spelling_has_one_canonical_form(book):
    reply = book.reply_address(12, 34)
    assert book.served(f"<{reply.upper()}>").address == reply
    assert book.served("Support@GW.test").address == "support@gw.test"
    assert book.served(book.bounce_address(9).upper()).address == book.bounce_address(9)
    assert book.served("someone@else.test") is None


KELVIN = "\u212a"  # KELVIN SIGN: str.lower() and NFKC both make it "k"


def test_an_international_domain_is_one_address_written_either_way():
    assert parse_mailbox("Zoe <zoe@bücher.test>") == "zoe@xn--bcher-kva.test"
    assert parse_mailbox("ZOE@XN--BCHER-KVA.test") == "zoe@xn--bcher-kva.test"
    assert parse_mailbox_list("a@bücher.test, b@xn--bcher-kva.test") == ["a@xn--bcher-kva.test",
                                                                        "b@xn--bcher-kva.test"]
    assert normalize(" Zoe@Bücher.Test ") == "zoe@xn--bcher-kva.test"


def test_the_domain_is_ascii_case_insensitive_and_nothing_else_is_folded():
    assert parse_mailbox("Kim <Kim@Client.TEST>") == "kim@client.test"
    assert parse_mailbox(f"{KELVIN}im@client.test") == f"{KELVIN}im@client.test" != "kim@client.test"
    assert parse_mailbox("zoë@client.test") == "zoë@client.test"
    assert parse_mailbox("ZOË@client.test") == "zoË@client.test"  # only ASCII letters change case


@pytest.mark.parametrize("text", [
    f"ann@{KELVIN}iosk.test",
    f"Ann <ann@{KELVIN}iosk.test>",
    f'"ann@kiosk.test" <ann@{KELVIN}iosk.test>',
    "ann@k\u0130osk.test",  # LATIN CAPITAL LETTER I WITH DOT ABOVE lowercases to "i" and a combining dot
])
def test_a_domain_that_only_folding_makes_valid_is_no_address(text):
    assert parse_mailbox(text) is None
    assert parse_mailbox_list(text) == []
    assert parse_mailbox_list(f"ann@kiosk.test, {text}") == []  # never fewer mailboxes than it names


def test_gateway_addresses_are_compared_without_folding(book):
    account, reply = next((n, a) for n, a in ((n, book.reply_address(7, n)) for n in range(1000))
                          if "k" in a.split("@")[0])
    assert book.route(reply.upper()) == book.route(f"<{reply}>") == ReplyRoute(7, account)
    assert book.route(reply.replace("k", KELVIN)) is None
    assert book.route("support@gw.test".replace("t", "\uff54")) is None  # FULLWIDTH LATIN SMALL LETTER T
