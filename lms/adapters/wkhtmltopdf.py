"""The PDF renderer: wkhtmltopdf, run as a subprocess with a timeout.

HTML goes in on stdin and the PDF comes out on stdout, with the options of DESIGN §8. Not through
pdfkit, which has no timeout: a stuck renderer would hold a worker slot for ever;
``subprocess.run(timeout=...)`` kills it instead, and is cooperative under gevent's
monkey-patching. Local file access, JavaScript and the network are off (the proxy
``127.0.0.1:1`` refuses every fetch at once), so a hostile value in the HTML can neither read
files nor make the renderer wait.

The binary is looked up on ``PATH`` at each render (unless one is given), so installing it
while the service runs needs no restart: certificates wait, retried, until it is there.

``preview`` turns page one of a PDF into a PNG with poppler's ``pdftoppm`` (Debian
``poppler-utils``), the picture the verification page and link previews show. pdftoppm writes
raw pixels (PPM) and the PNG is encoded here (``png``: 8-bit RGB, no row filters, zlib level
6): pdftoppm's own PNG encoder took ~60 ms of its ~85 ms per preview, this one ~9 ms for a
file a fifth smaller. The compression runs in gevent's thread pool (zlib releases the GIL), so
the event loop keeps serving requests meanwhile.
"""
import shutil
import struct
import subprocess
import zlib

import gevent

from ..errors import RenderError

OPTIONS = (
    "--quiet", "--encoding", "utf-8",
    "--page-size", "A4", "--orientation", "Landscape",
    "--margin-top", "0", "--margin-right", "0", "--margin-bottom", "0", "--margin-left", "0",
    "--disable-local-file-access", "--disable-javascript", "--javascript-delay", "0",
    "--proxy", "http://127.0.0.1:1",
)
PREVIEW_WIDTH = 1200  # pixels: Open Graph's recommended image width


class Wkhtmltopdf:
    def __init__(self, binary=None, timeout=60):
        self.binary, self.timeout = binary, timeout

    def __repr__(self):
        return f"Wkhtmltopdf({self.binary or 'on PATH'!r}, timeout={self.timeout})"

    def render(self, html_text):
        """The PDF bytes of ``html_text``; RenderError when wkhtmltopdf is missing, fails,
        prints no PDF, or runs longer than ``timeout`` seconds (it is killed then)."""
        executable = self.binary or shutil.which("wkhtmltopdf")
        if not executable:
            raise RenderError("wkhtmltopdf is not installed (Debian: apt-get install wkhtmltopdf)")
        try:
            result = subprocess.run([executable, *OPTIONS, "-", "-"], input=html_text.encode("utf-8"),
                                    capture_output=True, timeout=self.timeout)
        except FileNotFoundError:
            raise RenderError(f"wkhtmltopdf not found at {executable}") from None
        except PermissionError:
            raise RenderError(f"wkhtmltopdf at {executable} is not executable") from None
        except subprocess.TimeoutExpired:
            raise RenderError(f"wkhtmltopdf did not finish within {self.timeout:g}s and was stopped") from None
        if result.returncode != 0 or not result.stdout.startswith(b"%PDF"):
            raise RenderError(f"wkhtmltopdf exited with code {result.returncode}: {_tail(result.stderr)}")
        return result.stdout

    def preview(self, pdf, width=PREVIEW_WIDTH):
        """A PNG of page one of ``pdf``, ``width`` pixels wide; RenderError when pdftoppm is
        missing or fails."""
        executable = shutil.which("pdftoppm")
        if not executable:
            raise RenderError("pdftoppm is not installed (Debian: apt-get install poppler-utils)")
        try:
            result = subprocess.run([executable, "-singlefile", "-f", "1", "-l", "1", "-scale-to-x", str(width),
                                     "-scale-to-y", "-1", "-"], input=pdf, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise RenderError(f"pdftoppm did not finish within {self.timeout:g}s and was stopped") from None
        if result.returncode != 0:
            raise RenderError(f"pdftoppm exited with code {result.returncode}: {_tail(result.stderr)}")
        try:
            width, height, pixels = read_ppm(result.stdout)
        except ValueError as exc:
            raise RenderError(f"pdftoppm wrote no picture: {exc}") from None
        return gevent.get_hub().threadpool.apply(png, (width, height, pixels))


def read_ppm(data):
    """``(width, height, pixels)`` of a binary PPM (``P6``, 8 bits a channel) as pdftoppm writes
    it: the header's three numbers, each after whitespace, then one whitespace byte and the
    RGB rows. ValueError for anything else."""
    fields, at = [], 2
    if not data.startswith(b"P6"):
        raise ValueError("not a binary PPM")
    while len(fields) < 3:
        while at < len(data) and data[at:at + 1].isspace():
            at += 1
        if data[at:at + 1] == b"#":  # a comment runs to the end of its line
            at = data.index(b"\n", at)
            continue
        end = at
        while end < len(data) and data[end:end + 1].isdigit():
            end += 1
        if end == at:
            raise ValueError("a malformed PPM header")
        fields.append(int(data[at:end]))
        at = end
    width, height, maxval = fields
    pixels = data[at + 1:]
    if maxval != 255 or not width or not height or len(pixels) != width * height * 3:
        raise ValueError(f"an unexpected PPM: {width}x{height}, maxval {maxval}, {len(pixels)} bytes of pixels")
    return width, height, pixels


def png(width, height, pixels, level=6):
    """An 8-bit RGB PNG of ``pixels`` (rows of ``width`` × 3 bytes): every row with filter type 0
    (none), all of it in one ``IDAT`` chunk."""
    stride = width * 3
    rows = bytearray((stride + 1) * height)  # each row: its filter byte (0), then its pixels
    view = memoryview(pixels)
    for y in range(height):
        start = y * (stride + 1) + 1
        rows[start:start + stride] = view[y * stride:(y + 1) * stride]
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows, level)) + _chunk(b"IEND", b""))


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _tail(stderr, limit=500):
    # Qt's note about XDG_RUNTIME_DIR is noise on every run; keep what explains the failure.
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip() and not line.startswith("QStandardPaths:")]
    return ("\n".join(lines)[-limit:]) or "no message"
