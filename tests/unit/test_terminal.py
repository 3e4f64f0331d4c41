"""What the CLI prints from mail: controls as visible escapes (gateway.terminal)."""

from __future__ import annotations

import json

import pytest

from gateway.channels.terminal import shown, shown_json


@pytest.mark.parametrize("raw, printed", [
    ("plain café ✓", "plain café ✓"),
    ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
    ("\x9b31m\x9d0;x\x9c", "\\x9b31m\\x9d0;x\\x9c"),
    ("del\x7f nul\x00", "del\\x7f nul\\x00"),
    ("abc\u202edcba \u2067x\u2069 \u200f", "abc\\u202edcba \\u2067x\\u2069 \\u200f"),
    ("two\nlines\ttab\rcr", "two\\x0alines\\x09tab\\x0dcr"),
    ("line\u2028sep", "line\\u2028sep"),
])
def test_one_line_fields_show_every_control(raw, printed):
    assert shown(raw) == printed


def test_bodies_keep_their_lines_and_tabs():
    assert shown("a\tb\nc\x1b[1m\r\n", lines=True) == "a\tb\nc\\x1b[1m\\x0d\n"


def test_json_escapes_the_controls_json_dumps_leaves_raw_and_keeps_the_data():
    data = {"subject": "\x1b[2J\x9b31m\u202e\x7f\u2028 ok"}
    printed = shown_json(json.dumps(data, ensure_ascii=False))
    assert printed.isprintable() and json.loads(printed) == data
