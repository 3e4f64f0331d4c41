"""From headers as real clients write them (issue 15, class 7): the address is read from the
header as it was sent, before RFC 2047 decoding; a display name never decides the address."""

from __future__ import annotations

import pytest

from parsers.mime import parse_message


def _mail(from_value: bytes, *, body: bytes = b"Hello there\r\n", multipart_without_boundary: bool = False) -> bytes:
    content_type = (b'multipart/mixed; boundary="never-used"' if multipart_without_boundary
                    else b"text/plain; charset=utf-8")
    return (b"From: " + from_value + b"\r\n"
            b"To: support@store.test\r\n"
            b"Subject: =?utf-8?Q?Bestellung_M=C3=BCller?=\r\n"
            b"Date: Tue, 24 Nov 2026 09:12:03 +0100\r\n"
            b"Message-ID: <AM0PR07MB1234ABCD@AM0PR07MB1234.eurprd07.prod.outlook.com>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: " + content_type + b"\r\n\r\n" + body)


@pytest.mark.parametrize("from_value, address, shown", [
    # Outlook / Exchange: a non-ASCII "Last, First" name as one B encoded word, unquoted
    (b"=?utf-8?B?TcO8bGxlciwgQmVybmQ=?= <bernd@example.com>", "bernd@example.com", "Müller, Bernd"),
    # the same as Q encoding with the comma encoded, as older Exchange writes it in Latin-1
    (b"=?iso-8859-1?Q?M=FCller=2C_Bernd?= <bernd@example.com>", "bernd@example.com", "Müller, Bernd"),
    # some Exchange versions quote the encoded word (RFC 2047 forbids it, clients still read it)
    (b'"=?utf-8?B?TcO8bGxlciwgQmVybmQ=?=" <bernd@example.com>', "bernd@example.com", "Müller, Bernd"),
    # a name split over two encoded words, the comma at the end of the first
    (b"=?UTF-8?Q?M=C3=BCller,?= =?UTF-8?Q?_Bernd?= <Bernd@Example.COM>", "bernd@example.com", "Müller"),
    # raw UTF-8 in the header (RFC 6532), the comma unquoted
    ("Müller, Bernd <bernd@example.com>".encode(), "bernd@example.com", "Müller, Bernd"),
    # unquoted specials that help-desk and shop systems put into names
    (b"Foo Bar [Support] <a@b.example>", "a@b.example", "Foo Bar [Support]"),
    (b"Acme Corp. (Billing) Team: Jane <jane@acme.example>", "jane@acme.example", "Jane"),
    (b"Jane Doe via Acme; Sales <jane@acme.example>", "jane@acme.example", "Jane Doe"),
])
def test_display_names_with_commas_and_specials_keep_their_one_address(from_value, address, shown):
    mail = parse_message(_mail(from_value))
    assert mail.from_addresses == (address,)
    assert shown in mail.headers.get("From")  # what people see is the decoded name


@pytest.mark.parametrize("from_value, addresses", [
    (b"olivia@client.test, carol@client.test", ("olivia@client.test", "carol@client.test")),
    (b"Olivia <olivia@client.test>, Carol <carol@client.test>", ("olivia@client.test", "carol@client.test")),
    (b"=?utf-8?B?TcO8bGxlciwgQmVybmQ=?= <bernd@example.com>, Carol <carol@client.test>",
     ("bernd@example.com", "carol@client.test")),
])
def test_two_mailboxes_stay_two(from_value, addresses):
    assert parse_message(_mail(from_value)).from_addresses == addresses


@pytest.mark.parametrize("from_value", [
    b"Foo Bar [Support] <a@b.example> <c@d.example>",       # two angle addresses
    b"a@b.example [Support] <c@d.example>",                   # an address in the name: a second mailbox?
    b"Foo [Support] <a@b.example> trailing words",            # text after the address
    b'Foo "unclosed <a@b.example>',                           # an open quoted string
    b"Foo [Support] <not an address>",
])
def test_ambiguous_headers_yield_no_address(from_value):
    assert parse_message(_mail(from_value)).from_addresses == ()


@pytest.mark.parametrize("from_value, address", [
    # the decoded name is an address: the one in angle brackets decides
    (b"=?utf-8?B?b2xpdmlhQGNsaWVudC50ZXN0?= <eve@evil.test>", "eve@evil.test"),
    (b"=?utf-8?Q?olivia=40client=2Etest?= <eve@evil.test>", "eve@evil.test"),
])
def test_an_encoded_word_is_never_taken_for_an_address(from_value, address):
    assert parse_message(_mail(from_value)).from_addresses == (address,)


@pytest.mark.parametrize("from_value", [
    b"=?utf-8?B?b2xpdmlhQGNsaWVudC50ZXN0?=",                           # "olivia@client.test", and nothing else
    b"=?utf-8?B?b2xpdmlhQGNsaWVudC50ZXN0LCBjYXJvbEBjbGllbnQudGVzdA==?=",  # "olivia@client.test, carol@..."
    b"Eve <=?utf-8?B?b2xpdmlhQGNsaWVudC50ZXN0?=>",
])
def test_an_address_only_inside_an_encoded_word_is_no_address(from_value):
    mail = parse_message(_mail(from_value))
    assert mail.from_addresses == ()
    assert "olivia@client.test" in mail.headers.get("From")


def test_the_lenient_reader_reads_the_same_when_the_strict_scanner_refuses_the_message():
    raw = _mail(b"=?utf-8?B?TcO8bGxlciwgQmVybmQ=?= <bernd@example.com>", multipart_without_boundary=True)
    mail = parse_message(raw)
    assert mail.from_addresses == ("bernd@example.com",)
    assert "Hello there" in (mail.text or "")


@pytest.mark.parametrize("fields, addresses", [
    # RFC 5322 obs-fields: white space before the colon is still that field
    (b"From : olivia@client.test\r\n", ("olivia@client.test",)),
    (b"From\t: olivia@client.test\r\n", ("olivia@client.test",)),
    # a second, obsolete-syntax From beside a normal one is a second From, not a line to ignore
    (b"From: olivia@client.test\r\nFrom : mallory@evil.test\r\n", ("olivia@client.test", "mallory@evil.test")),
    (b"From : mallory@evil.test\r\nFrom: olivia@client.test\r\n", ("mallory@evil.test", "olivia@client.test")),
])
def test_a_from_field_written_with_space_before_its_colon_counts(fields, addresses):
    raw = fields + b"To: support@store.test\r\nSubject: Hello\r\nMessage-ID: <obs@client.test>\r\n\r\nHello\r\n"
    assert parse_message(raw).from_addresses == addresses


def test_a_spaced_colon_in_a_continuation_line_or_the_body_is_left_alone():
    raw = (b"From: olivia@client.test\r\nSubject: one\r\n two : three\r\nTo: support@store.test\r\n\r\n"
           b"From : this line is body text\r\n")
    mail = parse_message(raw)
    assert mail.from_addresses == ("olivia@client.test",)
    assert mail.subject == "one two : three"
    assert "From : this line is body text" in mail.text
