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


@pytest.mark.parametrize("raw,safe", [
    ("invoice\u202egpj.exe", "invoicegpj.exe"),      # RIGHT-TO-LEFT OVERRIDE: shown as "invoiceexe.jpg"
    ("photo\u2066\u2069.jpg", "photo.jpg"),            # bidi isolates
    ("re\u200bport\u200d.pdf\ufeff", "report.pdf"),    # zero-width space and joiner, BOM
    ("soft\u00adhyphen.txt", "softhyphen.txt"),
    ("bell\x85\x9b31m.txt", "bell__31m.txt"),          # C1 controls: NEL, CSI
    ("esc\x1b[2J.txt", "esc_[2J.txt"),
    ("\u202e\u200b", "attachment"),
    ("lone\udc80surrogate.txt", "lone_surrogate.txt"),
])
def test_invisible_and_control_characters_are_not_kept(raw, safe):
    assert safe_filename(raw) == safe


@pytest.mark.parametrize("raw,safe", [
    ("NUL.tar.gz", "_NUL.tar.gz"),
    ("con .txt", "_con .txt"),
    ("aux. .txt", "_aux. .txt"),
    ("prn", "_prn"),
    ("COM0.log", "_COM0.log"),
    ("COM\u00b9.txt", "_COM\u00b9.txt"),
    ("lpt\u00b3", "_lpt\u00b3"),
    ("LPT9.bin", "_LPT9.bin"),
    ("CONIN$", "_CONIN$"),
    ("conout$.txt", "_conout$.txt"),
    ("co\u200bn.txt", "_con.txt"),
])
def test_windows_device_names_are_renamed(raw, safe):
    assert safe_filename(raw) == safe


@pytest.mark.parametrize("name", ["console.txt", "nulls.csv", "com10.txt", "lpt.txt", "CONIN.txt", "auxiliary"])
def test_names_that_only_begin_like_a_device_are_kept(name):
    assert safe_filename(name) == name


def test_long_names_keep_their_extension_within_200_bytes():
    name = safe_filename("é" * 300 + ".tar.gz")
    assert name.endswith(".gz") and len(name.encode()) <= 200
