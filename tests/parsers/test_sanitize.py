"""sanitize_html: the allowlist that the HTML kept with a post goes through before display."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from parsers.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, inline_image_ids, sanitize_html, text_to_html


class _Elements(HTMLParser):
    """Every element and attribute of a piece of HTML, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.tokens: list[tuple[str, ...]] = []  # attributes in a fixed order: the sanitizer's is not

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))
        self.tokens.append(("start", tag, *sorted(f"{k}={v}" for k, v in attrs)))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.tokens.append(("data", data))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def same_html(a: str, b: str) -> bool:
    return _elements(a).tokens == _elements(b).tokens


def assert_inert(html: str) -> None:
    """Only allowlisted tags and attributes; no link or source that can run or load anything."""
    parsed = _elements(html)
    assert not parsed.comments
    for tag, attrs in parsed.found:
        assert tag in ALLOWED_TAGS, tag
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed, (tag, attrs)
        for name, value in attrs.items():
            low = (value or "").casefold().replace(" ", "")
            assert "javascript:" not in low and "vbscript:" not in low and "expression(" not in low, (name, value)
            assert "url(" not in low and "\\" not in low, (name, value)
        if "href" in attrs:
            assert attrs["href"].casefold().startswith(("http:", "https:", "mailto:", "tel:"))
            assert attrs["rel"] == "noopener noreferrer"
        if "src" in attrs:
            assert attrs["src"].casefold().startswith(("cid:", "data:image/png;", "data:image/jpeg;",
                                                       "data:image/gif;", "data:image/webp;"))


HOSTILE = {
    "script": ("<p>Hi</p><script>alert(1)</script>", "<p>Hi</p>"),
    "script in caps, split": ("<p>Hi</p><SCRIPT SRC=//evil.example/x.js></SCRIPT>", "<p>Hi</p>"),
    "onerror": ('<img src=x onerror="alert(1)">', "<img>"),
    "event handlers everywhere": ('<div onmouseover="alert(1)" onclick=alert(2)>Hi</div>', "<div>Hi</div>"),
    "javascript href": ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
    "javascript href, mixed case and blanks": ('<a href=" JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
    "javascript href with an encoded tab": ('<a href="java&#09;script:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
    "vbscript href": ('<a href="vbscript:msgbox(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
    "data href": ('<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
                  '<a rel="noopener noreferrer">x</a>'),
    "relative href": ('<a href="/account/delete">x</a>', '<a rel="noopener noreferrer">x</a>'),
    "target and own rel": ('<a href="https://example.com" target="_top" rel="opener">x</a>',
                           '<a href="https://example.com" rel="noopener noreferrer">x</a>'),
    "style expression": ('<div style="width: expression(alert(1))">x</div>', "<div>x</div>"),
    "style url": ('<div style="background-image: url(javascript:alert(1)); color: red">x</div>',
                  '<div style="color:red">x</div>'),
    "style escapes": ('<div style="color: re\\64">x</div>', "<div>x</div>"),
    "style comment": ('<div style="color: red/**/;">x</div>', "<div>x</div>"),
    "style behaviour and binding": ('<p style="behavior: url(x.htc); -moz-binding: url(x.xml#y); font-weight: bold">x</p>',
                                    '<p style="font-weight:bold">x</p>'),
    "style position overlay": ('<div style="position:fixed;top:0;left:0;width:100%;z-index:9">x</div>',
                               "<div>x</div>"),
    "style element": ("<style>@import url(https://evil.example/x.css); body{display:none}</style><p>Hi</p>", "<p>Hi</p>"),
    "svg script": ("<svg><script>alert(1)</script><circle r=5></circle></svg><p>Hi</p>", "<p>Hi</p>"),
    "svg onload": ("<svg onload=alert(1)><p>Hi</p></svg>", "<p>Hi</p>"),
    "svg link": ('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', ""),
    "svg image": ('<img src="data:image/svg+xml;base64,PHN2Zy8+">', "<img>"),
    "math mXSS": ('<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', ""),
    "noscript mXSS": ('<noscript><p title="</noscript><img src=x onerror=alert(1)>">', '<img>"&gt;'),
    "iframe": ('<iframe src="https://evil.example"></iframe><p>Hi</p>', "<p>Hi</p>"),
    "object and embed": ('<object data="x.swf"><embed src="x.swf"></object><p>Hi</p>', "<p>Hi</p>"),
    "form": ('<form action="https://evil.example/login"><input name="password"><button>Go</button></form>', "Go"),
    "meta refresh": ('<meta http-equiv="refresh" content="0;url=https://evil.example"><p>Hi</p>', "<p>Hi</p>"),
    "base and link": ('<base href="https://evil.example/"><link rel="stylesheet" href="x.css"><p>Hi</p>', "<p>Hi</p>"),
    "conditional comment": ("<!--[if IE]><script>alert(1)</script><![endif]--><p>Hi</p>", "<p>Hi</p>"),
    "unclosed tags": ("<b>bold <i>both", "<b>bold <i>both</i></b>"),
    "unclosed link": ('<a href="https://example.com">link', '<a href="https://example.com" rel="noopener noreferrer">link</a>'),
    "unclosed attribute": ('<p title="x>Hi</p><script>alert(1)</script>', ""),
    "id and class": ('<div id="app" class="admin-only" name="x">Hi</div>', "<div>Hi</div>"),
    "remote image": ('<img src="https://tracker.example/p.gif?u=1" alt="logo" width="1" height="1">',
                     '<img alt="logo" width="1" height="1">'),
    "protocol-relative image": ('<img src="//tracker.example/p.gif">', "<img>"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_html(name: str) -> None:
    html, expected = HOSTILE[name]
    cleaned = sanitize_html(html)
    assert same_html(cleaned, expected), cleaned
    assert_inert(cleaned)


@pytest.mark.parametrize("html", [
    '<img src="cid:image001.png@01DA6E2B.1F2C3D40" alt="photo">',
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">',
])
def test_images_from_the_message_itself_are_kept(html: str) -> None:
    assert same_html(sanitize_html(html), html)


def test_without_the_message_at_hand_cid_images_keep_only_their_alt_text() -> None:
    cleaned = sanitize_html('<img src="cid:a@b" alt="photo"><img src="data:image/png;base64,iVBO" alt="dot">',
                            keep_inline_images=False)
    assert same_html(cleaned, '<img alt="photo"><img src="data:image/png;base64,iVBO" alt="dot">')


def test_inline_image_ids_are_read_from_the_img_sources() -> None:
    html = ('<img alt="x" src="cid:image001.png@01DA6E2B.1F2C3D40"><IMG SRC=\'cid:a%40b\'>'
            '<img src="cid:x&amp;y@z"><a href="cid:not-an-image@z">link</a><p>cid:text@z</p>')
    assert inline_image_ids(html) == {"image001.png@01DA6E2B.1F2C3D40", "a@b", "x&y@z"}


def test_what_an_email_body_needs_is_kept() -> None:
    html = ('<div dir="ltr"><p style="color:#1f497d;font-family:Calibri, sans-serif">Hello <b>Bob</b>,</p>'
            '<blockquote>quoted</blockquote><ul><li>one</li></ul><ol start="3"><li>three</li></ol>'
            '<table border="1"><tbody><tr><td colspan="2">cell</td></tr></tbody></table><pre>  code</pre>'
            '<font color="red" size="2">red</font><a href="mailto:bob@example.com">mail</a><br><hr></div>')
    cleaned = sanitize_html(html)
    assert same_html(cleaned, html.replace('href="mailto:bob@example.com"',
                                           'href="mailto:bob@example.com" rel="noopener noreferrer"')), cleaned
    assert_inert(cleaned)


def test_colour_functions_are_plain_values() -> None:
    assert sanitize_html('<span style="color: rgb(0, 0, 0); background-color: rgba(255,255,255,0.5)">x</span>') == \
        '<span style="color:rgb(0, 0, 0);background-color:rgba(255,255,255,0.5)">x</span>'


DECEIVING = {
    "negative margin over the author line": '<div style="margin-top:-40px;color:red">I approve the refund</div>',
    "margin shorthand": '<p style="margin: -3em 0 0 -2em">x</p>',
    "position": '<div style="position:absolute;top:-30px">x</div>',
    "transform": '<div style="transform:translateY(-50px)">x</div>',
    "display none": '<span style="display:none">hidden terms</span>',
    "visibility": '<span style="visibility:hidden">x</span>',
    "opacity": '<span style="opacity:0">x</span>',
    "font size zero": '<span style="font-size:0">x</span>',
    "font size tiny": '<span style="font-size:1px">x</span>',
    "font size shrinking when nested": '<span style="font-size:50%">x</span>',
    "font size smaller": '<span style="font-size:smaller">x</span>',
    "font size in viewport units": '<span style="font-size:0.1vw">x</span>',
    "height zero with overflow": '<div style="height:0;overflow:hidden">x</div>',
    "width zero": '<div style="width:0;max-height:0">x</div>',
    "clip": '<span style="clip:rect(0,0,0,0);clip-path:inset(50%)">x</span>',
    "transparent colour": '<span style="color:transparent">x</span>',
    "invisible rgba": '<span style="color:rgba(0,0,0,0)">x</span>',
    "alpha in hex": '<span style="color:#0000">x</span>',
    "line height zero": '<p style="line-height:0">x</p>',
    "negative letter spacing": '<p style="letter-spacing:-1em">x</p>',
    "negative text indent": '<p style="text-indent:-9999px">x</p>',
    "important": '<div style="display:none !important">x</div>',
}


@pytest.mark.parametrize("name", list(DECEIVING))
def test_no_style_hides_or_moves_text(name: str) -> None:
    html = DECEIVING[name]
    cleaned = sanitize_html(html)
    styles = [attrs.get("style") for _, attrs in _elements(cleaned).found]
    assert styles == [None] or styles == ["color:red"], cleaned
    text = [token[1] for token in _elements(html).tokens if token[0] == "data"]
    assert [token[1] for token in _elements(cleaned).tokens if token[0] == "data"] == text  # the text stays


def test_a_font_colour_is_never_transparent() -> None:
    assert sanitize_html('<font color="transparent">x</font><font color="#1f497d">y</font>') == \
        '<font>x</font><font color="#1f497d">y</font>'


@pytest.mark.parametrize("tags", ["small", "sub", "sup", "h5", "h6", "bdo"])
def test_tags_that_shrink_or_reverse_their_text_keep_only_the_text(tags: str) -> None:
    nested = f'<{tags} dir="rtl">' * 20 + "fine print" + f"</{tags}>" * 20
    assert sanitize_html(nested) == "fine print"


@pytest.mark.parametrize("style, kept", [
    ("color:#1F497D;font-weight:bold", "color:#1F497D;font-weight:bold"),
    ("font-size:11pt;font-style:italic", "font-size:11pt;font-style:italic"),
    ("font-size:x-small;text-decoration:underline red", "font-size:x-small;text-decoration:underline red"),
    ("text-align:center;text-transform:uppercase", "text-align:center;text-transform:uppercase"),
    ("background-color:yellow;color:rgba(0,0,0,0.8)", "background-color:yellow;color:rgba(0,0,0,0.8)"),
    ("font-weight: bold !important", "font-weight:bold"),
    ("font-size:1.5em;font-size:120%", "font-size:1.5em;font-size:120%"),
])
def test_typographic_styles_are_kept(style: str, kept: str) -> None:
    assert sanitize_html(f'<span style="{style}">x</span>') == f'<span style="{kept}">x</span>'


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "<script>x</script>"])
def test_nothing_left(html: str) -> None:
    assert sanitize_html(html) == ""


def test_text_to_html_escapes() -> None:
    assert text_to_html("a <b> & c\nnext\n\n<script>x</script>") == \
        "<p>a &lt;b&gt; &amp; c<br>next</p><p>&lt;script&gt;x&lt;/script&gt;</p>"
