"""The HTML kept with a post, made safe to show in a page (nh3, the ammonia sanitizer).

sanitize_html keeps what an email body needs to read as the writer wrote it and nothing
that can act:

- Tags: text structure and formatting (paragraphs, line breaks, lists, tables, quotes,
  headings, pre/code, bold/italic/underline, font and span), links and images; nothing
  else. script, style, template, iframe, object, embed, svg, math, noscript and title are
  removed with their content; forms, inputs, buttons, frames, meta/link/base and unknown
  tags are removed and their text kept. Comments are removed.
- Attributes: a short list per tag (href, src, alt, sizes, table layout, dir/lang/title,
  font colour/face/size) and style, filtered to a list of typographic properties with
  plain values (no url(), expression(), escapes or comments). No event handlers, no id
  or class, no target.
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
    "a abbr b bdi bdo big blockquote br caption center cite code col colgroup dd del dfn div dl dt em "
    "font h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strike strong sub sup "
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
STYLE_PROPERTIES = frozenset(
    "color background-color font-family font-size font-style font-weight font-variant text-align "
    "text-decoration text-indent text-transform line-height letter-spacing white-space vertical-align "
    "direction list-style-type margin margin-top margin-right margin-bottom margin-left padding "
    "padding-top padding-right padding-bottom padding-left border border-top border-right border-bottom "
    "border-left border-color border-style border-width border-collapse width height".split()
)
_COLOUR_FUNCTION = re.compile(r"rgba?\([\d\s.,%]*\)", re.IGNORECASE)
_PLAIN_VALUE = re.compile(r"[#\w\s.,%'\"!+-]*")  # no parentheses, slashes, escapes, colons or semicolons
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
    return value


def _style(value: str) -> str | None:
    if len(value) > MAX_STYLE:
        return None
    kept = []
    for declaration in value.split(";"):
        prop, colon, val = declaration.partition(":")
        prop, val = prop.strip().casefold(), val.strip()
        if colon and prop in STYLE_PROPERTIES and val and _PLAIN_VALUE.fullmatch(_COLOUR_FUNCTION.sub("", val)):
            kept.append(f"{prop}:{val}")
    return ";".join(kept) or None
