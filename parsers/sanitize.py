"""The HTML kept with a post, made safe to show in a page (nh3, the ammonia sanitizer).

sanitize_html keeps what an email body needs to read as the writer wrote it and nothing
that can act:

- Tags: text structure and formatting (paragraphs, line breaks, lists, tables, quotes,
  headings h1-h4, pre/code, bold/italic/underline, font and span), links and images;
  nothing else. Tags that shrink their text relative to the enclosing one (small, sub,
  sup, h5, h6), and nest to make it vanish, and bdo, which shows letters in reverse, keep
  only their text. script, style, template, iframe, object, embed, svg, math, noscript and title are
  removed with their content; forms, inputs, buttons, frames, meta/link/base and unknown
  tags are removed and their text kept. Comments are removed.
- Attributes: a short list per tag (href, src, alt, sizes, table layout, dir/lang/title,
  font colour/face/size) and style, filtered to the declarations that change how text
  looks and never where it is or whether it shows: colours (not transparent, at least
  half opaque), font family, style, weight, variant and a readable size (relative sizes
  only grow), text alignment, decoration and case, white-space, list style and table
  borders' collapse, each with plain values. No margin, padding, position, size, display,
  visibility, opacity, transform, clip or overflow: nothing can hide text or move it over
  the page around it (the author line above a post). No event handlers, no id or class,
  no target.
- Links: http, https, mailto and tel only, absolute; every link gets
  rel="noopener noreferrer".
- Images: no remote image is loaded when the post is shown. An <img> keeps its src only
  when it points into the message itself (cid:, an inline attachment, for the viewer to
  resolve) or carries a raster image as data (data:image/png|jpeg|gif|webp;base64); a
  remote src (http, https, anything else) is dropped and the alt text stays. That keeps
  tracking pixels and sender-side image loads out of the helpdesk. Where the images of the
  message are not at hand (keep_inline_images=False), cid: sources go too.
"""

from __future__ import annotations

import html as html_escape
import re
from functools import partial
from urllib.parse import unquote

import nh3

ALLOWED_TAGS = frozenset(
    "a abbr b bdi big blockquote br caption center cite code col colgroup dd del dfn div dl dt em "
    "font h1 h2 h3 h4 hr i img ins kbd li mark ol p pre q s samp span strike strong "
    "table tbody td tfoot th thead tr tt u ul var".split()
)
REMOVED_WITH_CONTENT = frozenset("script style template iframe object embed svg math noscript title".split())
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"dir", "lang", "title", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"width", "border", "cellpadding", "cellspacing", "align"},
    "td": {"colspan", "rowspan", "width", "align", "valign"},
    "th": {"colspan", "rowspan", "width", "align", "valign"},
    "tr": {"align", "valign"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "li": {"value"},
    "p": {"align"},
    "div": {"align"},
}
LINK_SCHEMES = ("http:", "https:", "mailto:", "tel:")
_PLAIN_VALUE = re.compile(r"[#\w\s.,%'\"+-]*")  # no parentheses, slashes, escapes, colons or semicolons
_COLOUR_FUNCTION = re.compile(r"(?:rgb|hsl)a?\(([\d\s.,%]*)\)")
_IMPORTANT = re.compile(r"!\s*important\s*$", re.IGNORECASE)
_HEX_COLOUR = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})")  # no alpha digits
_LENGTH = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(px|pt|em|rem|%)")
# font sizes within these bounds (per unit) are readable; em and % only grow, so nesting cannot shrink text
_FONT_SIZES = {"px": (8, 96), "pt": (6, 72), "em": (1, 4), "%": (100, 400), "rem": (0.5, 6)}
_FONT_SIZE_WORDS = frozenset("xx-small x-small small medium large x-large xx-large xxx-large larger".split())
_DECORATION_WORDS = frozenset("none underline overline line-through solid double dotted dashed wavy".split())
_KEYWORDS = {
    "font-style": frozenset({"normal", "italic", "oblique"}),
    "font-weight": frozenset("normal bold bolder lighter 100 200 300 400 500 600 700 800 900".split()),
    "font-variant": frozenset({"normal", "small-caps"}),
    "text-align": frozenset({"left", "right", "center", "justify", "start", "end"}),
    "text-transform": frozenset({"none", "capitalize", "uppercase", "lowercase"}),
    "white-space": frozenset({"normal", "nowrap", "pre", "pre-wrap", "pre-line"}),
    "vertical-align": frozenset("baseline sub super top middle bottom text-top text-bottom".split()),
    "list-style-type": frozenset("disc circle square decimal lower-alpha upper-alpha lower-roman upper-roman "
                                 "lower-latin upper-latin none".split()),
    "border-collapse": frozenset({"collapse", "separate"}),
}
_INLINE_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.ASCII)
_CID_SOURCE = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*["']?cid:([^"'\s>]+)""", re.IGNORECASE)
MAX_STYLE = 1000  # characters of one style attribute; longer ones are dropped whole


def sanitize_html(html: str, keep_inline_images: bool = True) -> str:
    """The HTML with everything outside the allowlist removed (see the module's docstring)."""
    if not html or html.isspace():
        return ""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(REMOVED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=partial(_attribute, keep_inline_images=keep_inline_images),
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def inline_image_ids(html: str) -> set[str]:
    """The Content-IDs that the HTML's images point at (cid: URLs, RFC 2392)."""
    return {unquote(html_escape.unescape(match)) for match in _CID_SOURCE.findall(html or "")}


def text_to_html(text: str) -> str:
    """Plain text as HTML: a paragraph per run of lines, a <br> between lines, all escaped."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.strip("\n")) if p.strip()]
    return "".join("<p>" + "<br>".join(html_escape.escape(line) for line in p.split("\n")) + "</p>"
                   for p in paragraphs)


def _attribute(tag: str, name: str, value: str, keep_inline_images: bool) -> str | None:
    if name == "href":
        return value if value.strip().casefold().startswith(LINK_SCHEMES) else None
    if name == "src":
        low = value.strip().casefold()
        if (keep_inline_images and low.startswith("cid:")) or _INLINE_IMAGE.fullmatch(value.strip()):
            return value
        return None
    if name == "style":
        return _style(value)
    if name == "color":
        return value if _visible_colour(value.strip().casefold()) else None
    return value


def _style(value: str) -> str | None:
    """Only declarations that change how text looks, never where it is or whether it shows."""
    if len(value) > MAX_STYLE:
        return None
    kept = []
    for declaration in value.split(";"):
        prop, colon, val = declaration.partition(":")
        prop, val = prop.strip().casefold(), _IMPORTANT.sub("", val).strip()
        if colon and _harmless(prop, val.casefold()):
            kept.append(f"{prop}:{val}")
    return ";".join(kept) or None


def _harmless(prop: str, val: str) -> bool:
    if prop in _KEYWORDS:
        return val in _KEYWORDS[prop]
    if prop in ("color", "background-color"):
        return _visible_colour(val)
    if prop == "font-size":
        return _readable_size(val)
    if prop in ("text-decoration", "text-decoration-line"):
        return bool(val) and all(word in _DECORATION_WORDS or _visible_colour(word) for word in val.split())
    if prop == "font-family":
        return bool(val) and _PLAIN_VALUE.fullmatch(val) is not None
    return False


def _visible_colour(val: str) -> bool:
    """A named or hex colour, or rgb()/hsl() at least half opaque; never transparent."""
    if val.isalpha():
        return val != "transparent"
    if _HEX_COLOUR.fullmatch(val):
        return True
    function = _COLOUR_FUNCTION.fullmatch(val)
    if function is None:
        return False
    parts = [p.strip() for p in function.group(1).split(",")]
    if len(parts) == 3:
        return True
    if len(parts) != 4:
        return False
    alpha = parts[3]
    try:
        opacity = float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)
    except ValueError:
        return False
    return opacity >= 0.5


def _readable_size(val: str) -> bool:
    if val in _FONT_SIZE_WORDS:
        return True
    length = _LENGTH.fullmatch(val)
    if length is None:
        return False
    low, high = _FONT_SIZES[length.group(2)]
    return low <= float(length.group(1)) <= high
