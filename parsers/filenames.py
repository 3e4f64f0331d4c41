"""Attachment filenames made safe to store, show and send on."""

from __future__ import annotations

import re
import unicodedata

MAX_BYTES = 200
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
# Windows opens a device, not a file, for these names before the first dot (whatever follows,
# trailing spaces and dots ignored); it reads the superscript digits as digits
_RESERVED = frozenset({"con", "prn", "aux", "nul", "conin$", "conout$",
                       *(f"{port}{n}" for port in ("com", "lpt") for n in range(10))})


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """No path, no invisible, control or shell-special characters, no hidden or reserved names,
    <= 200 bytes, never empty."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", "".join(_visible(c) for c in name))
    name = " ".join(name.split()).strip(" .")
    if not name or name.strip("_") == "":
        return fallback
    if _device_name(name):
        name = f"_{name}"
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = extension[:20]
    while len(f"{stem}.{extension}".encode()) > MAX_BYTES and stem:
        stem = stem[:-1]
    return f"{stem}.{extension}" if extension else stem or fallback


def _visible(char: str) -> str:
    """Format characters (bidi overrides, zero-width ones) go; controls and lone surrogates become "_"."""
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    return "_" if category in ("Cc", "Cs") else char


def _device_name(name: str) -> bool:
    base = name.split(".", 1)[0].rstrip(" .")
    return unicodedata.normalize("NFKC", base).casefold() in _RESERVED
