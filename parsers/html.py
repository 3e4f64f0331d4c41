"""HTML -> plain text, with the stdlib parser (no regexes over markup).

Block elements become lines, lists become "- " / "1. " items, <pre> keeps its lines, and
script/style/head are skipped. With for_reply, the clients' markup of a reply is followed:
<blockquote> and Yahoo's yahoo_quoted become `>` quotes; the attribution elements (Gmail's
gmail_attr, Thunderbird's moz-cite-prefix, Roundcube's reply-intro) are reported by line, so
quotes.py knows them in any language; signature elements (gmail_signature, moz-signature,
Outlook mobile's and Samsung's footers, AppleMailSignature...) are dropped; and everything
from Outlook's reply header on (divRplyFwdMsg, appendonsend, its mobile reference message)
is dropped. Gmail's gmail_quote container is no quote of its own: answers written between
the quoted parts sit in it. quotes.py then trims HTML mail with the same rules as plain text,
and every line of text says where in the HTML its content is, so the HTML can be cut where
the text is.

Linear in the input: what makes the stdlib parser slow or raise is defused first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser


Span = tuple[int, int]  # [start, end) in HtmlText.source


@dataclass(frozen=True)
class HtmlText:
    text: str     # the rendered text; with for_reply, quote containers as `>` lines
    dropped: str  # the text of what was left out (signatures, Outlook's quoted original)
    source: str = ""  # the HTML as it was read (see _defuse); spans and removed point into it
    # per line of text: where in source the line's content starts and ends (None: a blank line)
    spans: tuple[Span | None, ...] = ()
    # lines the client marked as the attribution above a quote ("On ... wrote:"), by the
    # element it put them in: (first line, number of lines)
    attributions: tuple[tuple[int, int], ...] = ()
    removed: tuple[Span, ...] = ()  # elements left out of the text (signatures), whole
    # per line of text: the most elements that were open at once, from the start to it
    nesting: tuple[int, ...] = ()


def html_to_text(html: str, *, for_reply: bool = False, as_written: bool = False) -> HtmlText:
    """Render HTML as plain text with the stdlib parser.

    for_reply: mark the clients' quote containers as `>` quotes, drop signature blocks,
    and drop everything from Outlook's reply header on. Without it, all of the HTML is
    rendered (what forwards.py needs to read a forwarded message's headers).

    as_written: keep the text's own line breaks and spaces (all of it read as in <pre>), and
    the <title>. Mail systems write their reports as plain text in a little markup (or none,
    labelled text/html), with the subject as the title: the classifier reads them so, line by line.
    """
    source = _defuse(html)
    parser = _HtmlRenderer(source, for_reply, as_written)
    parser.feed(source)
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
# elements that the next one of their kind closes, in HTML's parsing rules: they never nest deep
_ENDS_IMPLIED = frozenset("p li dt dd tr td th option tbody thead tfoot colgroup".split())
_SKIPPED = frozenset("style script head title template".split())

# How the clients mark the parts of a reply, by class and by id. Ids are compared in lower
# case and without the prefixes that other clients add when they quote the HTML again
# ("x_divRplyFwdMsg" from Outlook, "gmail-m_-123composer_signature" from Gmail).
# Gmail's gmail_quote container is not a quote: the quote is its <blockquote>, and answers
# written between the quoted parts sit in the container too.
_QUOTE_CLASSES = frozenset({"yahoo_quoted"})
_QUOTE_IDS = ("yahoo_quoted",)  # a prefix: Yahoo numbers them
_ATTRIBUTION_CLASSES = frozenset({"gmail_attr", "moz-cite-prefix"})
_ATTRIBUTION_IDS = frozenset({"reply-intro"})  # Roundcube
_SIGNATURE_CLASSES = frozenset({"moz-signature", "gmail_signature", "gmail_signature_prefix",
                                "protonmail_signature_block"})
_SIGNATURE_IDS = frozenset({"applemailsignature", "signature", "ms-outlook-mobile-signature", "composer_signature",
                            "ymail_android_signature"})
# Outlook puts the quoted original after these elements, or inside the last ones
_CUT_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container",
                      "olk_src_body_section"})
_CUT_CLASSES = frozenset({"ms-outlook-mobile-reference-message"})
_MANGLED_ID = re.compile(r"(?:x_|(?:gmail-)?m_-?\d+)+")
_SPACES = re.compile(r"\s+")
MAX_QUOTE_MARKS = 10  # ">" written in front of a line, however deep the quote


_KINDS = ("blockquote", "quote", "attribution", "drop", "skip", "pre", "ol", "ul")


@dataclass
class _Open:
    tag: str
    depth: int  # how many <tag> elements were open, this one included
    kind: str   # one of _KINDS
    items: int = 0
    start: int = 0  # where its start tag is in the source


@dataclass(slots=True)
class _Line:
    depth: int
    text: str
    span: list[int] | None  # [start, end) of its content in the source
    attribution: int = 0    # the attribution element it belongs to (1, 2, ...), 0 if none
    nesting: int = 0        # the most elements open at once up to this line


class _TextBuilder:
    """Lines of text, each with the quote depth it was written at and where it came from."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self._parts: list[str] = []
        self._depth = 0
        self._gap = False
        self._span: list[int] | None = None
        self._unterminated: list[list[int]] = []  # spans whose content goes on to the next token
        self._last: tuple[list[int], int] | None = None  # span and depth of the text written last
        self.attribution = 0
        self.nesting = 0

    def write(self, data: str, depth: int, pre: bool, at: int) -> None:
        if pre:
            for n, chunk in enumerate(_split_lines(data)):
                if n:
                    self.hard_break(depth)
                if chunk:
                    self._append(chunk, depth, at)
            return
        data = _SPACES.sub(" ", data.replace("\xa0", " "))
        if not self._parts:
            data = data.lstrip()
        if data:
            self._append(data, depth, at)

    def end_of_content(self, at: int) -> None:
        """The text written last ends at `at` (the next token starts there)."""
        for span in self._unterminated:
            span[1] = at
        self._unterminated = []

    def _append(self, data: str, depth: int, at: int) -> None:
        if self._parts and depth != self._depth:
            self._flush()
        if not self._parts:
            self._depth = depth
            self._span = [at, at]
        self._parts.append(data)
        assert self._span is not None
        if not self._unterminated or self._unterminated[-1] is not self._span:
            self._unterminated.append(self._span)
        self._last = (self._span, depth)

    def extend_last(self, end: int, depth: int) -> None:
        """Content without text (an image) right after the last text, at its depth, belongs to it."""
        if self._last is not None and self._last[1] == depth:
            self._last[0][1] = max(self._last[0][1], end)

    def line_break(self, paragraph: bool = False) -> None:
        if self._parts:
            self._flush()
        if paragraph and self.lines:
            self._gap = True

    def hard_break(self, depth: int) -> None:
        if self._parts:
            self._flush()
        else:
            self._emit("", depth, None)

    def _flush(self) -> None:
        line = "".join(self._parts).rstrip()
        self._parts = []
        self._emit(line, self._depth, self._span if line else None)

    def _emit(self, line: str, depth: int, span: list[int] | None) -> None:
        if self._gap and self.lines and self.lines[-1].text:
            self.lines.append(_Line(min(depth, self.lines[-1].depth), "", None, 0, self.nesting))
        self._gap = False
        self.lines.append(_Line(depth, line, span, self.attribution if line else 0, self.nesting))

    def render(self) -> tuple[list[str], list[Span | None], list[int], list[int]]:
        """The lines as text, with their spans, attribution numbers and nesting."""
        if self._parts:
            self._flush()
        out: list[str] = []
        spans: list[Span | None] = []
        groups: list[int] = []
        nesting: list[int] = []
        for line in self.lines:
            if not line.text and out and not out[-1].strip("> "):
                continue  # a run of blank lines becomes one
            marks = ">" * min(line.depth, MAX_QUOTE_MARKS)
            out.append(f"{marks} {line.text}" if marks and line.text else marks or line.text)
            spans.append((line.span[0], line.span[1]) if line.span else None)
            groups.append(line.attribution)
            nesting.append(line.nesting)
        start, end = 0, len(out)
        while start < end and not out[start]:
            start += 1
        while end > start and not out[end - 1]:
            end -= 1
        return out[start:end], spans[start:end], groups[start:end], nesting[start:end]


class _HtmlRenderer(HTMLParser):
    def __init__(self, source: str, for_reply: bool, as_written: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0]  # getpos() counts lines
        newline = source.find("\n")
        while newline >= 0:
            self._line_starts.append(newline + 1)
            newline = source.find("\n", newline + 1)
        self._for_reply = for_reply
        self._as_written = as_written
        self._skipped = _SKIPPED - {"head", "title"} if as_written else _SKIPPED
        self._kept = _TextBuilder()
        self._dropped = _TextBuilder()
        self._counts: dict[str, int] = {}     # open elements per tag name
        self._open: dict[str, list[_Open]] = {}  # the ones we follow, per tag name
        self._active = dict.fromkeys(_KINDS, 0)  # open elements we follow, per kind
        self._lists: list[_Open] = []
        self._cut = False
        self._removed: list[Span] = []
        self._attributions = 0
        self._nesting = 0  # elements open now, those of _ENDS_IMPLIED aside

    def result(self) -> HtmlText:
        self._kept.end_of_content(len(self._source))
        lines, spans, groups, nesting = self._kept.render()
        dropped = self._dropped.render()[0]
        return HtmlText("\n".join(lines), "\n".join(dropped), self._source, tuple(spans),
                        _attribution_runs(groups), tuple(self._removed), tuple(nesting))

    def _at(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _out(self) -> _TextBuilder:
        return self._dropped if self._cut or self._active["drop"] else self._kept

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        at = self._at()
        self._kept.end_of_content(at)
        if tag in _VOID:
            if tag == "br":
                self._out().hard_break(self._quote_depth())
            elif tag == "hr":
                self._out().line_break(paragraph=True)
            elif tag == "img" and self._out() is self._kept:
                close = self._source.find(">", at)
                self._kept.extend_last(len(self._source) if close < 0 else close + 1, self._quote_depth())
            return
        if tag == "body":  # closes an unclosed <head>
            for entry in self._open.pop("head", []):
                self._close(entry, at)
        kind = self._kind(tag, attrs)
        if kind == "cut":
            self._out().line_break()
            self._cut = True
            kind = None
        if tag in _BLOCKS or kind == "attribution":
            self._out().line_break(paragraph=tag in _PARAGRAPHS)
        self._counts[tag] = self._counts.get(tag, 0) + 1
        if tag not in _ENDS_IMPLIED:
            self._nesting += 1
            self._kept.nesting = max(self._kept.nesting, self._nesting)
        if kind is not None:
            entry = _Open(tag, self._counts[tag], kind, start=at)
            self._open.setdefault(tag, []).append(entry)
            self._active[kind] += 1
            if kind in ("ol", "ul"):
                self._lists.append(entry)
            elif kind == "attribution" and self._active[kind] == 1:
                self._attributions += 1
                self._kept.attribution = self._attributions
        if tag == "li":
            self._start_item()
        elif tag in ("td", "th"):
            self._write(" ")

    def handle_endtag(self, tag: str) -> None:
        at = self._at()
        self._kept.end_of_content(at)
        count = self._counts.get(tag, 0)
        if tag in _VOID or count == 0:
            return
        stack = self._open.get(tag)
        if tag in _BLOCKS or (stack and stack[-1].kind == "attribution" and stack[-1].depth == count):
            self._out().line_break(paragraph=tag in _PARAGRAPHS)
        close = self._source.find(">", at)
        end = len(self._source) if close < 0 else close + 1
        while stack and stack[-1].depth >= count:  # also closes what was left unclosed inside
            self._close(stack.pop(), end)
        self._counts[tag] = count - 1
        if tag not in _ENDS_IMPLIED:
            self._nesting -= 1

    def handle_data(self, data: str) -> None:
        at = self._at()
        self._kept.end_of_content(at)
        if not self._active["skip"]:
            self._write(data, at)

    def close(self) -> None:
        super().close()
        for stack in self._open.values():  # what was never closed ends with the source
            for entry in stack:
                self._close(entry, len(self._source))
        self._open = {}

    def _write(self, data: str, at: int | None = None) -> None:
        pre = self._as_written or self._active["pre"] > 0
        self._out().write(data, self._quote_depth(), pre, self._at() if at is None else at)

    def _quote_depth(self) -> int:
        """Nested blockquotes; a client's quote container without one counts as one level."""
        return self._active["blockquote"] or min(1, self._active["quote"])

    def _close(self, entry: _Open, end: int) -> None:
        self._active[entry.kind] -= 1
        if entry.kind in ("ol", "ul"):
            self._lists.remove(entry)
        elif entry.kind == "drop" and not self._active["drop"] and not self._cut:
            self._removed.append((entry.start, end))
        elif entry.kind == "attribution" and not self._active["attribution"]:
            self._kept.line_break()
            self._kept.attribution = 0

    def _start_item(self) -> None:
        if self._lists and self._lists[-1].kind == "ol":
            self._lists[-1].items += 1
            self._write(f"{self._lists[-1].items}. ")
        else:
            self._write("- ")

    def _kind(self, tag: str, attrs: list[tuple[str, str | None]]) -> str | None:
        if tag in self._skipped:
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
    """cut, drop, quote or attribution for the known elements of the mail clients."""
    for name, value in attrs:
        if not value:
            continue
        if name == "id":
            element_id = value.casefold()
            mangled = _MANGLED_ID.match(element_id)
            if mangled:
                element_id = element_id[mangled.end():]
            if element_id in _CUT_IDS:
                return "cut"
            if element_id in _SIGNATURE_IDS:
                return "drop"
            if element_id.startswith(_QUOTE_IDS):
                return "quote"
            if element_id in _ATTRIBUTION_IDS:
                return "attribution"
        elif name == "class":
            classes = set(value.split())
            if classes & _CUT_CLASSES:
                return "cut"
            if classes & _SIGNATURE_CLASSES:
                return "drop"
            if classes & _QUOTE_CLASSES:
                return "quote"
            if classes & _ATTRIBUTION_CLASSES:
                return "attribution"
    return None


def _attribution_runs(groups: list[int]) -> tuple[tuple[int, int], ...]:
    """(first line, number of lines) of each attribution element, from the lines' numbers."""
    runs: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        if group:
            runs.setdefault(group, []).append(index)
    return tuple((found[0], found[-1] - found[0] + 1) for found in runs.values())


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
