"""Attachment filenames made safe to store, show and send on."""

from __future__ import annotations

import re
import unicodedata

MAX_BYTES = 200
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """No path, no control or shell-special characters, no hidden or reserved names, <= 200 bytes."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if not name or name.strip("_") == "":
        return fallback
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    extension = extension[:20]
    while len(f"{stem}.{extension}".encode()) > MAX_BYTES and stem:
        stem = stem[:-1]
    return f"{stem}.{extension}" if extension else stem or fallback
