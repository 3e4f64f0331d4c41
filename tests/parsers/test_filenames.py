import pytest

from parsers.filenames import safe_filename


@pytest.mark.parametrize("raw,safe", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\eve\\evil.exe", "evil.exe"),
    ("in\r\nvoice.pdf", "in__voice.pdf"),
    ('quote".pdf', "quote_.pdf"),
    (".htaccess", "htaccess"),
    ("CON.txt", "_CON.txt"),
    ("   ", "attachment"),
    (None, "attachment"),
    ("Größe café.pdf", "Größe café.pdf"),
    ("a\x00b.txt", "a_b.txt"),
])
def test_safe_filenames(raw, safe):
    assert safe_filename(raw) == safe


def test_long_names_keep_their_extension_within_200_bytes():
    name = safe_filename("é" * 300 + ".tar.gz")
    assert name.endswith(".gz") and len(name.encode()) <= 200
