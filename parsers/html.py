"""HTML -> plain text, with the stdlib parser (no regexes over markup).

Block elements become lines, lists become "- " / "1. " items, <pre> keeps its lines, and
script/style/head are skipped. With for_reply, the quote containers of the common mail
clients (blockquote, Gmail's gmail_quote, Thunderbird's moz-cite-prefix, Yahoo's
yahoo_quoted) become `>` quotes, signature blocks are dropped, and everything from
Outlook's reply header (divRplyFwdMsg, appendonsend) on is dropped, so quotes.py can trim
HTML mail with the same rules as plain text.

Linear in the input: what makes the stdlib parser slow or raise is defused first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class HtmlText:
    text: str     # the rendered text; with for_reply, quote containers as `>` lines
    dropped: str  # the text of what was left out (signatures, Outlook's quoted original)


def html_to_text(html: str, *, for_reply: bool = False) -> HtmlText:
    """Render HTML as plain text with the stdlib parser.

    for_reply: mark the clients' quote containers as `>` quotes, drop signature blocks,
    and drop everything from Outlook's reply header on. Without it, all of the HTML is
    rendered (what forwards.py needs to read a forwarded message's headers).
    """
    parser = _HtmlRenderer(for_reply)
    parser.feed(_defuse(html))
    parser.close()
    return parser.result()


_DECLARATION = re.compile(r"<[!?]")


def _defuse(html: str) -> str:
    """Take out what makes the stdlib parser slow or raise, before it sees the HTML.

    It rescans unterminated comments, declarations and tags to the end of the input for
    each one (quadratic), and raises AssertionError on malformed marked sections. Comments,
    declarations and processing instructions carry no text: each becomes an empty <wbr>
    (which also keeps the text around it from forming a new "<!"). A "<" with no ">" after
    it is text.
    """
    out: list[str] = []
    pos = 0
    while pos < len(html):
        found = _DECLARATION.search(html, pos)
        if found is None:
            out.append(html[pos:])
            break
        start = found.start()
        out.append(html[pos:start])
        out.append("<wbr>")
        closer = "-->" if html.startswith("<!--", start) else ">"
        close = html.find(closer, start + 2)
        pos = len(html) if close < 0 else close + len(closer)
    text = "".join(out)
    last = text.rfind(">")
    return text[:last + 1] + text[last + 1:].replace("<", "&lt;")


_BLOCKS = frozenset(
    "address article aside blockquote body center dd details dialog dir div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hr html li main menu nav ol p pre section summary "
    "table tbody thead tfoot tr ul caption".split()
)
_PARAGRAPHS = frozenset("p h1 h2 h3 h4 h5 h6 blockquote ul ol table pre".split())
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_SKIPPED = frozenset("style script head title template".split())
_QUOTE_CLASSES = frozenset({"gmail_quote", "gmail_quote_container", "gmail_attr", "moz-cite-prefix", "yahoo_quoted"})
_SIGNATURE_CLASSES = frozenset({"moz-signature", "gmail_signature", "gmail_signature_prefix"})
# Outlook puts the quoted original after these elements, not inside them
_OUTLOOK_CUT_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"})
_SPACES = re.compile(r"\s+")
MAX_QUOTE_MARKS = 10  # ">" written in front of a line, however deep the quote


_KINDS = ("blockquote", "quote", "drop", "skip", "pre", "ol", "ul")


@dataclass
class _Open:
    tag: str
    depth: int  # how many <tag> elements were open, this one included
    kind: str   # blockquote | quote | drop | skip | pre | ol | ul
    items: int = 0


class _TextBuilder:
    """Lines of text, each with the quote depth it was written at."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self._parts: list[str] = []
        self._depth = 0
        self._gap = False

    def write(self, data: str, depth: int, pre: bool) -> None:
        if pre:
            for n, chunk in enumerate(_split_lines(data)):
                if n:
                    self.hard_break(depth)
                if chunk:
                    self._append(chunk, depth)
            return
        data = _SPACES.sub(" ", data.replace("\xa0", " "))
        if not self._parts:
            data = data.lstrip()
        if data:
            self._append(data, depth)

    def _append(self, data: str, depth: int) -> None:
        if self._parts and depth != self._depth:
            self._flush()
        if not self._parts:
            self._depth = depth
        self._parts.append(data)

    def line_break(self, paragraph: bool = False) -> None:
        if self._parts:
            self._flush()
        if paragraph and self.lines:
            self._gap = True

    def hard_break(self, depth: int) -> None:
        if self._parts:
            self._flush()
        else:
            self._emit("", depth)

    def _flush(self) -> None:
        line = "".join(self._parts).rstrip()
        self._parts = []
        self._emit(line, self._depth)

    def _emit(self, line: str, depth: int) -> None:
        if self._gap and self.lines and self.lines[-1][1]:
            self.lines.append((min(depth, self.lines[-1][0]), ""))
        self._gap = False
        self.lines.append((depth, line))

    def render(self) -> str:
        if self._parts:
            self._flush()
        out: list[str] = []
        for depth, line in self.lines:
            if not line and out and not out[-1].strip("> "):
                continue  # a run of blank lines becomes one
            marks = ">" * min(depth, MAX_QUOTE_MARKS)
            out.append(f"{marks} {line}" if marks and line else marks or line)
        return "\n".join(out).strip("\n")


class _HtmlRenderer(HTMLParser):
    def __init__(self, for_reply: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._for_reply = for_reply
        self._kept = _TextBuilder()
        self._dropped = _TextBuilder()
        self._counts: dict[str, int] = {}     # open elements per tag name
        self._open: dict[str, list[_Open]] = {}  # the ones we follow, per tag name
        self._active = dict.fromkeys(_KINDS, 0)  # open elements we follow, per kind
        self._lists: list[_Open] = []
        self._cut = False

    def result(self) -> HtmlText:
        return HtmlText(self._kept.render(), self._dropped.render())

    def _out(self) -> _TextBuilder:
        return self._dropped if self._cut or self._active["drop"] else self._kept

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._out().hard_break(self._quote_depth())
            elif tag == "hr":
                self._out().line_break(paragraph=True)
            return
        if tag == "body":  # closes an unclosed <head>
            for entry in self._open.pop("head", []):
                self._close(entry)
        kind = self._kind(tag, attrs)
        if kind == "cut":
            self._out().line_break()
            self._cut = True
            kind = None
        if tag in _BLOCKS:
            self._out().line_break(paragraph=tag in _PARAGRAPHS)
        self._counts[tag] = self._counts.get(tag, 0) + 1
        if kind is not None:
            entry = _Open(tag, self._counts[tag], kind)
            self._open.setdefault(tag, []).append(entry)
            self._active[kind] += 1
            if kind in ("ol", "ul"):
                self._lists.append(entry)
        if tag == "li":
            self._start_item()
        elif tag in ("td", "th"):
            self._write(" ")

    def handle_endtag(self, tag: str) -> None:
        count = self._counts.get(tag, 0)
        if tag in _VOID or count == 0:
            return
        if tag in _BLOCKS:
            self._out().line_break(paragraph=tag in _PARAGRAPHS)
        stack = self._open.get(tag)
        while stack and stack[-1].depth >= count:  # also closes what was left unclosed inside
            self._close(stack.pop())
        self._counts[tag] = count - 1

    def handle_data(self, data: str) -> None:
        if not self._active["skip"]:
            self._write(data)

    def _write(self, data: str) -> None:
        self._out().write(data, self._quote_depth(), self._active["pre"] > 0)

    def _quote_depth(self) -> int:
        """Nested blockquotes; a client's quote container without one counts as one level."""
        return self._active["blockquote"] or min(1, self._active["quote"])

    def _close(self, entry: _Open) -> None:
        self._active[entry.kind] -= 1
        if entry.kind in ("ol", "ul"):
            self._lists.remove(entry)

    def _start_item(self) -> None:
        if self._lists and self._lists[-1].kind == "ol":
            self._lists[-1].items += 1
            self._write(f"{self._lists[-1].items}. ")
        else:
            self._write("- ")

    def _kind(self, tag: str, attrs: list[tuple[str, str | None]]) -> str | None:
        if tag in _SKIPPED:
            return "skip"
        if self._for_reply:
            if tag == "blockquote":
                return "blockquote"
            kind = _container_kind(attrs)
            if kind is not None:
                return kind
        if tag == "pre":
            return "pre"
        if tag in ("ol", "ul"):
            return tag
        return None


def _container_kind(attrs: list[tuple[str, str | None]]) -> str | None:
    """cut, drop or quote for the known containers of the mail clients, by id and class."""
    for name, value in attrs:
        if not value:
            continue
        if name == "id":
            element_id = value.casefold()
            if element_id.removeprefix("x_") in _OUTLOOK_CUT_IDS:
                return "cut"
            if element_id.startswith("yahoo_quoted"):
                return "quote"
        elif name == "class":
            classes = set(value.split())
            if classes & _SIGNATURE_CLASSES:
                return "drop"
            if classes & _QUOTE_CLASSES:
                return "quote"
    return None


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
