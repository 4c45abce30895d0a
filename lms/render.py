"""Certificates as HTML and PDF.

``render_html`` fills ``certs/certificate.html`` (a ``string.Template``: no template engine,
no bottle) with HTML-escaped values, a QR code of the verify URL and a seal, both inline SVG
data: URIs, so the page needs nothing from the disk or the network.

``render_pdf`` runs wkhtmltopdf itself, HTML on stdin and PDF on stdout, with the options of
DESIGN §8. It does not go through pdfkit, because pdfkit has no timeout: a stuck renderer
would hold a worker slot for ever. ``subprocess.run(timeout=...)`` kills it instead, and is
cooperative under gevent's monkey-patching. Local file access, JavaScript and the network
are off (the proxy ``127.0.0.1:1`` refuses every fetch at once), so a hostile value in the
HTML can neither read files nor make the renderer wait.
"""
import base64
import functools
import html
import math
import re
import shutil
import subprocess
from datetime import timezone
from pathlib import Path
from string import Template

import segno

TEMPLATE = Path(__file__).resolve().parent.parent / "certs" / "certificate.html"
# A run of Devanagari, spaces and joiners inside it included.
DEVANAGARI = re.compile(r"[\u0900-\u097f\ua8e0-\ua8ff\u1cd0-\u1cff]+"
                        r"(?:[\s\u200c\u200d]+[\u0900-\u097f\ua8e0-\ua8ff\u1cd0-\u1cff]+)*")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WKHTMLTOPDF_OPTIONS = (
    "--quiet", "--encoding", "utf-8",
    "--page-size", "A4", "--orientation", "Landscape",
    "--margin-top", "0", "--margin-right", "0", "--margin-bottom", "0", "--margin-left", "0",
    "--disable-local-file-access", "--disable-javascript", "--javascript-delay", "0",
    "--proxy", "http://127.0.0.1:1",
)


class RenderError(Exception):
    """The PDF could not be produced; the text says why (missing binary, timeout, exit code)."""


def render_html(*, student_name, course_title, issued_at, cert_id, verify_url, organisation="LMS"):
    """The certificate page. ``issued_at`` is shown as its ``long_date``."""
    values = {
        "student_name": _text(student_name),
        "course_title": _text(course_title),
        "organisation": _text(organisation),
        "issued_on": _text(long_date(issued_at)),
        "cert_id": _text(cert_id),
        "verify_url": _text(verify_url),
        "name_size": _fit(student_name, ((22, "36pt"), (32, "30pt"), (44, "24pt")), "19pt"),
        "course_size": _fit(course_title, ((40, "22pt"), (70, "18pt")), "15pt"),
        "qr": html.escape(_qr(verify_url)),
        "seal": _seal(),
    }
    return _template().substitute(values)


def long_date(value):
    """The UTC date of ``value`` as "27 November 2026" (English month names whatever the
    locale); a naive datetime is taken as UTC. The verification page prints the same."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def render_pdf(html_text, timeout=30, binary=None):
    """The PDF bytes of ``html_text``; RenderError when wkhtmltopdf is missing, fails,
    prints no PDF, or runs longer than ``timeout`` seconds (it is killed then)."""
    executable = binary or shutil.which("wkhtmltopdf")
    if not executable:
        raise RenderError("wkhtmltopdf is not installed (Debian: apt-get install wkhtmltopdf)")
    try:
        result = subprocess.run([executable, *WKHTMLTOPDF_OPTIONS, "-", "-"],
                                input=html_text.encode("utf-8"), capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise RenderError(f"wkhtmltopdf not found at {executable}") from None
    except PermissionError:
        raise RenderError(f"wkhtmltopdf at {executable} is not executable") from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"wkhtmltopdf did not finish within {timeout:g}s and was stopped") from None
    if result.returncode != 0 or not result.stdout.startswith(b"%PDF"):
        raise RenderError(f"wkhtmltopdf exited with code {result.returncode}: {_tail(result.stderr)}")
    return result.stdout


def _text(value):
    """``value`` HTML-escaped, its Devanagari runs marked so they get the serif Devanagari font."""
    escaped = html.escape(str(value), quote=True)
    return DEVANAGARI.sub(lambda run: f'<span class="deva">{run[0]}</span>', escaped)


@functools.lru_cache(maxsize=1)
def _template():
    return Template(TEMPLATE.read_text(encoding="utf-8"))


def _fit(text, steps, smallest):
    """A font size that keeps ``text`` on the page: long names and titles get smaller type."""
    for length, size in steps:
        if len(text) <= length:
            return size
    return smallest


def _svg_uri(svg):
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _qr(url):
    # Level M survives a crease or a smudge on a printout; vector output stays sharp in the PDF.
    return segno.make(url, error="m", micro=False).svg_data_uri(scale=4, border=0, dark="#1f3352")


@functools.lru_cache(maxsize=1)
def _seal():
    """A gold rosette with a star: 30 scallops around a navy disc."""
    scallops = "".join(
        f'<circle cx="{50 + 43 * math.cos(2 * math.pi * i / 30):.2f}" '
        f'cy="{50 + 43 * math.sin(2 * math.pi * i / 30):.2f}" r="5.2"/>' for i in range(30))
    star = " ".join(
        f"{50 + r * math.cos(a):.2f},{50 + r * math.sin(a):.2f}"
        for i in range(10) for r, a in [((15 if i % 2 == 0 else 6.5), -math.pi / 2 + math.pi * i / 5)])
    return _svg_uri(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="200" height="200">'
        f'<g fill="#b08d3c">{scallops}<circle cx="50" cy="50" r="43"/></g>'
        '<circle cx="50" cy="50" r="37" fill="#1f3352"/>'
        '<circle cx="50" cy="50" r="33.5" fill="none" stroke="#d9bf7a" stroke-width="0.8"/>'
        '<circle cx="50" cy="50" r="24" fill="none" stroke="#d9bf7a" stroke-width="0.5" stroke-dasharray="1.2 1.6"/>'
        f'<polygon fill="#d9bf7a" points="{star}"/></svg>')


def _tail(stderr, limit=500):
    # Qt's note about XDG_RUNTIME_DIR is noise on every run; keep what explains the failure.
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip() and not line.startswith("QStandardPaths:")]
    return ("\n".join(lines)[-limit:]) or "no message"
