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
``poppler-utils``), the picture the verification page and link previews show.
"""
import shutil
import subprocess

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
            result = subprocess.run([executable, "-png", "-singlefile", "-f", "1", "-l", "1", "-scale-to-x", str(width),
                                     "-scale-to-y", "-1", "-"], input=pdf, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise RenderError(f"pdftoppm did not finish within {self.timeout:g}s and was stopped") from None
        if result.returncode != 0 or not result.stdout.startswith(b"\x89PNG"):
            raise RenderError(f"pdftoppm exited with code {result.returncode}: {_tail(result.stderr)}")
        return result.stdout


def _tail(stderr, limit=500):
    # Qt's note about XDG_RUNTIME_DIR is noise on every run; keep what explains the failure.
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip() and not line.startswith("QStandardPaths:")]
    return ("\n".join(lines)[-limit:]) or "no message"
