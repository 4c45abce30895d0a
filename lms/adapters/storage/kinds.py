"""What a stored file is, judged by its bytes, and the name an uploaded one may be shown under.

Decisions:
- A file's type comes from its first bytes (magic numbers), never from its name or the
  Content-Type a client claims: an ``.exe`` renamed ``report.pdf`` is refused, a PDF named
  ``notes.txt`` is a PDF. Allowed: PDF, ZIP (which includes .docx, .xlsx, .pptx, .odt, .jar),
  PNG, JPEG, and plain text, meaning valid UTF-8 without NUL bytes.
- A client's file name is only shown, never used as a path or key: ``display_name`` drops any
  folders, control and formatting characters (a right-to-left override shows
  ``<U+202E>fdp.exe`` as ``exe.pdf``) and bounds the length, keeping the extension.
"""
import codecs
import unicodedata

SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"PK\x03\x04", "application/zip", "zip"),
    (b"PK\x05\x06", "application/zip", "zip"),  # an empty archive
)
TEXT = ("text/plain", "txt")
SNIFF_BYTES = 4096  # enough to recognise any signature and sample text when serving
MAX_NAME = 120
_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Cn")  # control, format, surrogate, private-use, unassigned


def sniff(data, complete=True):
    """``(content type, extension)`` of ``data`` by its bytes, or None for anything not allowed.

    ``complete=False`` judges a prefix of a file (a multi-byte character may be cut at its end).
    """
    for magic, content_type, extension in SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    if b"\x00" in data:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError:
        return None
    return TEXT


def display_name(raw, fallback="file"):
    """A client's file name made safe to show: no folders, no invisible characters, at most
    ``MAX_NAME`` characters with the extension kept."""
    name = unicodedata.normalize("NFC", (raw or "").replace("\\", "/").rsplit("/", 1)[-1])
    kept = "".join(" " if c.isspace() else c for c in name
                   if c.isspace() or unicodedata.category(c) not in _HIDDEN)
    name = " ".join(kept.split())
    if name in ("", ".", ".."):
        return fallback
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 10:
            return stem[:MAX_NAME - len(extension) - 2].rstrip() + "…." + extension
        return name[:MAX_NAME - 1].rstrip() + "…"
    return name
