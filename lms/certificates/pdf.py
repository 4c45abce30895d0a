"""Certificates as HTML, for the PDF renderer (``lms.adapters.wkhtmltopdf``).

``render_html`` fills the design's layout, ``certs/<layout>.html`` set in ``certs/page.html`` (a
``string.Template``: no template engine, no bottle), with HTML-escaped values, the design's texts, colour, logo and
signatories (images as data: URIs), a QR code of the verify URL and a seal (inline SVG data:
URIs), so the page needs nothing from the disk or the network. ``LAYOUTS`` lists the layouts.
"""
import base64
import functools
import html
import math
import re
from datetime import timezone
from pathlib import Path
from string import Template

import segno

CERTS = Path(__file__).resolve().parents[2] / "certs"
LAYOUTS = {
    "classic": "Framed, centred serif type, a gold seal: the traditional certificate",
    "modern": "A coloured band on the left, sans-serif type, the name large",
    "compact": "Smaller type and margins, everything on the top half: prints well as a card",
}
# A run of Devanagari, spaces and joiners inside it included.
DEVANAGARI = re.compile(r"[\u0900-\u097f\ua8e0-\ua8ff\u1cd0-\u1cff]+"
                        r"(?:[\s\u200c\u200d]+[\u0900-\u097f\ua8e0-\ua8ff\u1cd0-\u1cff]+)*")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def render_html(*, student_name, course_title, issued_at, cert_id, verify_url, organisation="LMS", design=None,
                grade=None):
    """The certificate page. ``issued_at`` is shown as its ``long_date``. ``design`` is a resolved
    design (``designs.resolve``: its images carry their bytes); None is the built-in classic one.
    ``grade`` is shown when the design says so."""
    design = design or {}
    organisation = design.get("organisationName") or organisation
    signatories = design.get("signatories") or []
    logo = design.get("logo")
    values = {
        "student_name": _text(student_name),
        "course_title": _text(course_title),
        "organisation": _text(organisation),
        "org_url": f'<div class="orgurl">{_text(design["organisationUrl"])}</div>'
                   if design.get("organisationUrl") else "",
        "title": _text(design.get("title") or "Certificate"),
        "subtitle": _text(design.get("subtitle", "of Completion")),
        "accent": design.get("accentColor") or "#1f3352",  # validated: #rrggbb
        "logo": f'<div class="logo"><img src="{data_uri(logo)}" alt=""></div>' if logo else "",
        "grade": f'<div class="grade">Grade: <strong>{_text(grade)}</strong></div>'
                 if design.get("showGrade") and grade else "",
        "signatories": _signatories(signatories),
        "page_class": " ".join(c for c, on in (("with-logo", logo), ("with-signatories", signatories)) if on),
        "issued_on": _text(long_date(issued_at)),
        "cert_id": _text(cert_id),
        "verify_url": _text(verify_url),
        "name_size": _fit(student_name, ((22, "36pt"), (32, "30pt"), (44, "24pt")), "19pt"),
        "course_size": _fit(course_title, ((40, "22pt"), (70, "18pt")), "15pt"),
        "qr": html.escape(_qr(verify_url)),
        "seal": _seal(),
    }
    return _template(design.get("layout") or "classic").substitute(values)


TITLE = re.compile(r"<title>.*?</title>", re.S)
PAGE_BREAK = '<div style="page-break-before: always"></div>'


def combine(documents):
    """One HTML document holding the pages of ``documents`` (pages ``render_html`` made), in
    order, each on a page of its own: wkhtmltopdf's time is mostly its start (~55 ms of a ~65 ms
    render here), so certificates rendered together cost little more than one. None unless they
    share one head (the same layout and design: only their titles differ)."""
    heads, bodies = set(), []
    for document in documents:
        head, body = document.split("<body>", 1)
        heads.add(TITLE.sub("", head))
        bodies.append(body.rsplit("</body>", 1)[0])
    if len(heads) != 1:
        return None
    head = TITLE.sub("<title>Certificates</title>", documents[0].split("<body>", 1)[0])
    return f"{head}<body>{PAGE_BREAK.join(bodies)}</body></html>"


def data_uri(image):
    """An image (``{contentType, data}``) as a data: URI: the renderer reads no files or URLs."""
    return f"data:{image['contentType']};base64," + base64.b64encode(image["data"]).decode()


def _signatories(people):
    if not people:
        return ""
    cells = "".join(
        '<td><div class="signature">'
        + (f'<img src="{data_uri(p["signature"])}" alt="">' if p.get("signature") else "")
        + f'</div><div class="who">{_text(p["name"])}</div><div class="role">{_text(p.get("title") or "")}</div></td>'
        for p in people)
    return f'<table class="signatories"><tr>{cells}</tr></table>'


def long_date(value):
    """The UTC date of ``value`` as "27 November 2026" (English month names whatever the
    locale); a naive datetime is taken as UTC. The verification page prints the same."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def _text(value):
    """``value`` HTML-escaped, its Devanagari runs marked so they get the serif Devanagari font."""
    escaped = html.escape(str(value), quote=True)
    return DEVANAGARI.sub(lambda run: f'<span class="deva">{run[0]}</span>', escaped)


@functools.lru_cache(maxsize=len(LAYOUTS))
def _template(layout):
    """``certs/page.html`` around the layout's style and body (``certs/<layout>.html``)."""
    if layout not in LAYOUTS:
        raise ValueError(f"no certificate layout {layout!r}")
    text = (CERTS / f"{layout}.html").read_text(encoding="utf-8")
    style, body = text.split("<style>", 1)[1].split("</style>", 1)
    page = (CERTS / "page.html").read_text(encoding="utf-8")
    return Template(page.replace("$layout_style", style.strip("\n")).replace("$layout_body", body.strip("\n")))


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
