"""What a stored file is, judged by its bytes, and how the app may show it.

Decisions:
- A file's type comes from its first bytes (magic numbers), never from its name or the
  Content-Type a client claims: an ``.exe`` renamed ``report.pdf`` is refused, a PDF named
  ``notes.txt`` is a PDF. Allowed: PDF, ZIP (which includes .docx, .xlsx, .pptx, .odt, .jar),
  PNG, JPEG, and plain text, meaning valid UTF-8 without NUL bytes.
- HTML or SVG is plain text here. That is harmless because nothing is ever served as
  ``text/html``: text goes out as ``text/plain`` with ``nosniff``, as an attachment, under a
  ``sandbox`` policy. Only PDFs and PNG/JPEG images are shown inline.
- PDFs are served without the CSP ``sandbox`` directive: Chrome, Firefox and Safari refuse to
  run their built-in PDF viewers in a sandboxed document (chromium issue 41131921; PrivateBin
  PR #1552), and certificates must open in the browser. Chrome's viewer page also needs inline
  styles. The viewers run a PDF's own scripts in their own isolated sandbox, not in our origin.
  PDFs may also be framed by this origin's pages (the verify page embeds the certificate in an
  ``<object>``); nothing else may be framed at all.
- A client's file name is only shown, never used as a path or key: ``display_name`` drops any
  folders, control and formatting characters (a right-to-left override shows
  ``<U+202E>fdp.exe`` as ``exe.pdf``) and bounds the length, keeping the extension.
"""
import codecs
import os
import secrets
import unicodedata

SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"PK\x03\x04", "application/zip", "zip"),
    (b"PK\x05\x06", "application/zip", "zip"),  # an empty archive
)
TEXT = ("text/plain", "txt")
INLINE = ("application/pdf", "image/png", "image/jpeg")
SNIFF_BYTES = 4096  # enough to recognise any signature and sample text when serving
MAX_NAME = 120
SANDBOXED = {"Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
             "X-Frame-Options": "DENY"}
PDF_HEADERS = {"Content-Security-Policy":
               "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
               "X-Frame-Options": "SAMEORIGIN"}
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


def serving(head):
    """``(content type, inline, security headers)`` for a stored file beginning ``head``."""
    kind = sniff(head, complete=False)
    content_type = kind[0] if kind else "application/octet-stream"
    headers = PDF_HEADERS if content_type == "application/pdf" else SANDBOXED
    return content_type, content_type in INLINE, dict(headers)


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


def write_atomically(path, data):
    """Write ``data`` to ``path`` through a temporary file, flushed and renamed into place, so a
    reader (or a crash) never sees half a file. Raises OSError; leaves no temporary file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
