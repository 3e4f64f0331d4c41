"""parse_message decodes best-effort and never raises anything but MalformedMessage:
mislabelled, undeclared and unknown charsets, broken transfer encodings, invalid UTF-8,
NUL bytes; and caps on header size, part count and nesting keep every message fast."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from parsers.mime import MAX_DEPTH, MAX_PARTS, MalformedMessage, decode_text, decode_transfer, parse_message

HEAD = b"From: Olivia <olivia@client.example>\r\nTo: r-1-2-x@support.example\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n"


def _text(body: bytes, content_type: bytes = b"text/plain", cte: bytes | None = None, head: bytes = HEAD) -> str | None:
    headers = head + b"Content-Type: " + content_type + b"\r\n"
    if cte:
        headers += b"Content-Transfer-Encoding: " + cte + b"\r\n"
    mail = parse_message(headers + b"\r\n" + body)
    return mail.text


@pytest.mark.parametrize("content_type,body,expected", [
    # declared and right
    (b"text/plain; charset=utf-8", "Café, merci".encode(), "Café, merci"),
    (b"text/plain; charset=iso-8859-2", "Dziękuję".encode("iso-8859-2"), "Dziękuję"),
    (b"text/plain; charset=koi8-r", "Спасибо".encode("koi8-r"), "Спасибо"),
    (b"text/plain; charset=iso-2022-jp", "ありがとう".encode("iso-2022-jp"), "ありがとう"),
    (b"text/plain; charset=\"windows-1251\"", "Дякую".encode("cp1251"), "Дякую"),
    # mislabelled: UTF-8 sent as ASCII or Latin-1 (a very common client bug)
    (b"text/plain; charset=us-ascii", "Café, merci".encode(), "Café, merci"),
    (b"text/plain; charset=iso-8859-1", "Grüße, Jörg".encode(), "Grüße, Jörg"),
    # Windows-1252 sent as Latin-1 or ASCII: curly quotes and the euro sign
    (b"text/plain; charset=iso-8859-1", "It’s 5 €".encode("cp1252"), "It’s 5 €"),
    (b"text/plain; charset=us-ascii", "It’s 5 €".encode("cp1252"), "It’s 5 €"),
    # undeclared
    (b"text/plain", "Grüße".encode(), "Grüße"),
    (b"text/plain", "Café crème".encode("cp1252"), "Café crème"),
    # labels Python does not know (or knows narrower than what is sent)
    (b"text/plain; charset=x-unknown", "Grüße".encode(), "Grüße"),
    (b"text/plain; charset=unknown-8bit", "Café".encode("cp1252"), "Café"),
    (b"text/plain; charset=ks_c_5601-1987", "감사합니다".encode("cp949"), "감사합니다"),
    (b"text/plain; charset=gb2312", "谢谢䶮".encode("gb18030"), "谢谢䶮"),
    (b"text/plain; charset=iso-8859-8-i", "תודה".encode("iso-8859-8"), "תודה"),
    (b"text/plain; charset=x-mac-cyrillic", "Спасибо".encode("mac_cyrillic"), "Спасибо"),
    (b"text/plain; charset=\"\"", "Grüße".encode(), "Grüße"),
    (b"text/plain; charset=base64", b"plain text", "plain text"),   # a bytes codec, not a charset
    (b"text/plain; charset=unicode-escape", b"a\\x41", "a\\x41"),    # nor this
    # UTF-16 has NUL bytes that are not NULs
    (b"text/plain; charset=utf-16", "Danke".encode("utf-16"), "Danke"),
])
def test_charsets(content_type: bytes, body: bytes, expected: str) -> None:
    assert _text(body, content_type, b"8bit") == expected


# Issue 15: a client that labels UTF-8 with its system's legacy charset, and a label that does
# not fit the bytes at all. Whatever decodes without errors is used, never U+FFFD.
@pytest.mark.parametrize("charset,text", [
    ("big5", "您好，我的訂單還沒有到。"),
    ("gb2312", "您好，我的订单还没有到。"),
    ("iso-8859-1", "Grüße aus Köln"),
    ("iso-8859-2", "Dziękuję, zamówienie dotarło."),
    ("iso-8859-5", "Спасибо, заказ пришёл."),
    ("iso-8859-7", "Ευχαριστώ πολύ"),
    ("shift_jis", "ありがとうございます"),
    ("windows-1251", "Дякую, все гаразд."),
    ("koi8-r", "Спасибо, заказ пришёл."),
])
@pytest.mark.parametrize("cte", [b"8bit", b"base64", b"quoted-printable"])
def test_utf8_labelled_with_a_legacy_charset_is_read_as_utf8(charset: str, text: str, cte: bytes) -> None:
    body = text.encode()
    if cte == b"base64":
        body = base64.b64encode(body)
    elif cte == b"quoted-printable":
        import quopri
        body = quopri.encodestring(body)
    assert _text(body, b"text/plain; charset=" + charset.encode(), cte) == text


@pytest.mark.parametrize("declared,actual,text", [
    ("iso-2022-jp", "cp932", "お世話になっております。注文の件でご連絡しました。よろしくお願いします。"),
    ("shift_jis", "euc-jp", "お世話になっております。注文の件でご連絡しました。よろしくお願いします。"),
    ("euc-jp", "big5", "您好，我的訂單還沒有到，請問什麼時候會寄出？謝謝您的幫忙。"),
    ("shift_jis", "cp949", "안녕하세요 주문이 아직 도착하지 않았습니다 감사합니다"),
    ("big5", "koi8-r", "Здравствуйте, мой заказ ещё не пришёл. Спасибо"),
    ("utf-8", "gb18030", "您好，我的订单还没有到，请问什么时候发货？谢谢您的帮助。"),
    ("utf-8", "big5", "您好，我的訂單還沒有到，請問什麼時候會寄出？謝謝您的幫忙。"),
])
def test_a_label_the_bytes_do_not_decode_with_gives_way_to_one_they_do(declared: str, actual: str, text: str) -> None:
    got = _text(text.encode(actual), b"text/plain; charset=" + declared.encode(), b"8bit")
    assert "\ufffd" not in got
    assert got == text


def test_utf16_text_is_never_taken_for_utf8() -> None:
    assert _text("Grüße".encode("utf-16-le"), b"text/plain; charset=utf-16le", b"8bit") == "Grüße"


def test_invalid_utf8_keeps_everything_else() -> None:
    text = _text(b"Gr\xc3\xbc\xc3e, J\xff\xfergen \xe2\x82", b"text/plain; charset=utf-8", b"8bit")
    assert text is not None
    assert text.startswith("Grü") and "J" in text and "rgen" in text
    assert "\ufffd" in text


def test_nul_bytes_are_dropped_from_body_and_headers() -> None:
    head = HEAD.replace(b"Subject: Hi", b"Subject: H\x00i")
    mail = parse_message(head + b"Content-Type: text/plain\r\n\r\nHel\x00lo\x00\r\n")
    assert mail.text == "Hello\r\n" or mail.text.rstrip() == "Hello"
    assert mail.subject == "Hi"


def test_raw_8bit_headers() -> None:
    head = ("From: Jörg Müller <joerg@client.example>\r\nTo: r-1-2-x@support.example\r\n"
            "Subject: Grüße aus Köln\r\n").encode()
    mail = parse_message(head + b"Content-Type: text/plain\r\n\r\nHallo")
    assert mail.subject == "Grüße aus Köln"
    assert mail.headers.get("From") == "Jörg Müller <joerg@client.example>"
    assert mail.from_addresses == ("joerg@client.example",)


def test_encoded_word_headers_with_good_and_unknown_charsets() -> None:
    head = (b"From: =?utf-8?q?J=C3=B6rg?= <joerg@client.example>\r\nTo: r-1-2-x@support.example\r\n"
            b"Subject: =?x-no-such-charset?q?Gr=FC=DFe?= =?iso-8859-1?q?caf=E9?=\r\n")
    mail = parse_message(head + b"Content-Type: text/plain\r\n\r\nHallo")
    assert mail.from_addresses == ("joerg@client.example",)
    assert "café" in mail.subject


GRUESSE = base64.b64encode("Grüße".encode())  # R3LDvMOfZQ==


@pytest.mark.parametrize("encoded,expected", [
    (GRUESSE, "Grüße"),
    (base64.b64encode("Grüße!".encode()).rstrip(b"="), "Grüße!"),                # padding missing
    (b"\r\n".join(GRUESSE[i:i + 3] for i in range(0, 12, 3)), "Grüße"),            # split lines
    (GRUESSE[:5] + b"*\x00 " + GRUESSE[5:], "Grüße"),                               # junk inside
    (GRUESSE + b"\r\n\r\n-- \r\ntrailing text the list added", "Grüße"),           # text after the end
    (GRUESSE[:9], "Grüß"),                                                          # cut off
    (b"!!!!", ""),
])
def test_broken_base64(encoded: bytes, expected: str) -> None:
    assert _text(encoded, b"text/plain; charset=utf-8", b"base64") == expected
    assert _text(encoded, b"text/plain; charset=utf-8", b"BASE64 ") == expected


@pytest.mark.parametrize("encoded,expected", [
    (b"Gr=C3=BC=C3=9Fe", "Grüße"),
    (b"a long line=\r\n continued", "a long line continued"),
    (b"price =3D 5 =E2=82=AC", "price = 5 €"),
    (b"broken =XY escape", "broken =XY escape"),
    (b"a soft break at the very end=", "a soft break at the very end"),
    (b"lower case =c3=bc", "lower case ü"),
])
def test_broken_quoted_printable(encoded: bytes, expected: str) -> None:
    assert _text(encoded, b"text/plain; charset=utf-8", b"quoted-printable") == expected


def test_unknown_transfer_encoding_is_taken_as_is() -> None:
    assert _text(b"plain", b"text/plain", b"x-uuencode-ish") == "plain"


def test_decode_helpers_never_raise() -> None:
    rng = random.Random(4)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        label = rng.choice([None, "utf-8", "utf-16", "utf-32", "iso-2022-jp", "x-foo", "gb2312", "shift_jis", ""])
        assert "\x00" not in decode_text(data, label)
        for cte in ("base64", "quoted-printable", "7bit", "junk"):
            decode_transfer(data, cte)


# ---------------------------------------------------------------------------------------
# Caps: nothing can make parsing slow or recurse too deep


def _nested_multipart(depth: int) -> bytes:
    head, tail = b"", b""
    for i in range(depth):
        head += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        tail = b"\r\n--b%d--\r\n" % i + tail
    return HEAD + head + b"Content-Type: text/plain\r\n\r\nDeep." + tail


def _nested_rfc822(depth: int) -> bytes:
    message = HEAD + b"Content-Type: text/plain\r\n\r\nDeep."
    for _ in range(depth):
        message = HEAD + b"Content-Type: message/rfc822\r\n\r\n" + message
    return message


def _many_parts(count: int) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    return HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"


def test_a_few_levels_of_nesting_are_read() -> None:
    assert parse_message(_nested_multipart(5)).text == "Deep."
    assert parse_message(_nested_rfc822(1)).attached_messages[0].text == "Deep."
    mail = parse_message(_nested_rfc822(MAX_DEPTH))
    for _ in range(MAX_DEPTH):
        mail = mail.attached_messages[0]
    assert mail.text and "Deep." in mail.text  # flanker leaves the innermost headers in its body


def test_many_parts_within_the_cap_are_read() -> None:
    assert len(parse_message(_many_parts(MAX_PARTS - 2)).attachments) == MAX_PARTS - 3


HOSTILE_STRUCTURES = {
    "multipart 3000 deep": _nested_multipart(3000),
    "message/rfc822 3000 deep": _nested_rfc822(3000),
    "message/rfc822 one too deep": _nested_rfc822(MAX_DEPTH + 1),
    "10000 parts": _many_parts(10_000),
    "5 MB header": HEAD + b"X-Big: " + b"x" * 5_000_000 + b"\r\n\r\nHi",
    "200000 headers": HEAD + b"X-A: b\r\n" * 200_000 + b"\r\nHi",
    "300000 folded lines": HEAD + b"X-Folded: a" + b"\r\n b" * 300_000 + b"\r\n\r\nHi",
}


@pytest.mark.parametrize("name", list(HOSTILE_STRUCTURES))
@pytest.mark.timeout(60)  # a hang guard; bench/parse_speed.py measures how fast
def test_hostile_structure_is_refused(name: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(HOSTILE_STRUCTURES[name])


def test_a_long_but_normal_header_is_kept_bounded() -> None:
    mail = parse_message(HEAD + b"References: " + b"<a@b> " * 5000 + b"\r\nContent-Type: text/plain\r\n\r\nHi")
    assert mail.text == "Hi"
    assert len(mail.headers.get("References") or "") <= 16 * 1024


def test_mangled_corpus_messages_raise_nothing_else() -> None:
    """Random truncations and byte flips of real messages: read or MalformedMessage, nothing else."""
    mail_dir = Path(__file__).resolve().parents[1] / "mail"
    files = sorted((mail_dir / "mailgun_flanker_messages" / "messages").glob("*.eml"))[:25]
    files += sorted((mail_dir / "spamscope_mail_parser" / "messages").glob("*.eml"))[:10]
    rng = random.Random(7)
    for path in files:
        raw = path.read_bytes()[:200_000]
        if not raw:
            continue
        for _ in range(4):
            mangled = bytearray(raw[: rng.randrange(1, len(raw) + 1)])
            for _ in range(rng.randrange(1, 20)):
                if mangled:
                    mangled[rng.randrange(len(mangled))] = rng.choice(b"\x00\xff=-\r\n:;<>\"?")
            try:
                parse_message(bytes(mangled))
            except MalformedMessage:
                pass


@pytest.mark.parametrize("header, expected", [
    ("<image001.png@01DA6E2B.1F2C3D40>", "image001.png@01DA6E2B.1F2C3D40"),
    ("photo.1@client.test", "photo.1@client.test"),
    ('<a"b@c>', None),
    ("<a b@c>", None),
    ("<>", None),
])
def test_an_attachments_content_id_is_kept_only_when_it_is_a_plain_msg_id(header: str, expected) -> None:
    raw = (f"From: a@b.test\r\nTo: c@d.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
           f'Content-Type: multipart/related; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n'
           f"<p>hi</p>\r\n--b\r\nContent-Type: image/png\r\nContent-ID: {header}\r\n"
           f"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n").encode()
    assert [a.content_id for a in parse_message(raw).attachments] == [expected]
