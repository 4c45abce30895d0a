"""Certificates rendered by the real wkhtmltopdf and read back with poppler's pdfinfo/pdftotext."""
import shutil
import struct
import subprocess
import time
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from lms.adapters.wkhtmltopdf import Wkhtmltopdf, read_ppm
from lms.certificates.pdf import render_html
from lms.errors import RenderError


def render_pdf(page, timeout=60, binary=None):
    return Wkhtmltopdf(binary, timeout).render(page)

ISSUED = datetime(2026, 11, 27, 12, 30, tzinfo=timezone.utc)


def certificate(**overrides):
    values = dict(student_name="Amit Kumar", course_title="MERN Bootcamp", issued_at=ISSUED,
                  cert_id="CERT-7K3M9QXH2P", verify_url="https://lms.test/verify/CERT-7K3M9QXH2P",
                  organisation="Acme Academy")
    values.update(overrides)
    return render_html(**values)


def pdf_text(pdf, tmp_path):
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return info, " ".join(text.split())


def pages(info):
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_a_certificate_is_one_a4_landscape_page_with_every_detail(tmp_path):
    pdf = render_pdf(certificate())
    info, text = pdf_text(pdf, tmp_path)

    assert pdf.startswith(b"%PDF")
    assert pages(info) == 1
    assert "842 x 595 pts (A4)" in info  # landscape
    for expected in ("CERTIFICATE", "COMPLETION", "Amit Kumar", "MERN Bootcamp", "27 November 2026",
                     "CERT-7K3M9QXH2P", "Acme Academy", "https://lms.test/verify/CERT-7K3M9QXH2P"):
        assert expected in text


def test_the_html_is_self_contained():
    page = certificate()
    for reference in ("http://", "https://", "file:", "//fonts", "@import", "<script"):
        assert reference not in page.replace("https://lms.test/verify/CERT-7K3M9QXH2P", "")
    assert page.count('src="data:image/svg+xml') == 2  # the seal and the QR code


def test_the_date_is_the_utc_day_in_english(tmp_path):
    late_evening_in_new_york = datetime(2026, 11, 27, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert "28 November 2026" in certificate(issued_at=late_evening_in_new_york)
    assert "1 January 2027" in certificate(issued_at=datetime(2027, 1, 1, 8, 0))  # naive = UTC


def test_accented_and_devanagari_names_come_out_as_text(tmp_path):
    _, text = pdf_text(render_pdf(certificate(student_name="Zoë Ñúñez")), tmp_path)
    assert "Zoë Ñúñez" in text

    pdf = render_pdf(certificate(student_name="अमित कुमार"))
    _, text = pdf_text(pdf, tmp_path)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "certificate.pdf")], capture_output=True, text=True).stdout
    assert "NotoSerifDevanagari" in fonts, "Devanagari is set in the serif Devanagari font, not boxes"
    # Qt's PDF writer gives no Unicode mapping to the glyph of a pre-base vowel sign (the i in
    # "अमित", drawn before its consonant), so that one sign is missing from the extracted text;
    # the page itself shows the name correctly. Everything else is real text.
    assert "कुमार" in text
    assert "अ" in text and "मत" in text


def test_a_hostile_name_is_printed_not_executed(tmp_path):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    page = certificate(student_name=hostile, course_title="Tom & Jerry's \"course\"")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x" in page
    assert "<script>" not in page and "<img src=x" not in page
    _, text = pdf_text(render_pdf(page), tmp_path)
    assert "<script>alert(1)</script><img src=x" in text
    assert "Tom & Jerry's \"course\"" in text


def test_long_names_and_titles_still_fit_on_one_page(tmp_path):
    pdf = render_pdf(certificate(student_name="Maximiliano Alejandro Ñúñez-Castellanos de la Fuente y Rodríguez",
                                 course_title="Advanced Distributed Systems Engineering with Kubernetes, Kafka "
                                              "and Event Sourcing — the Complete Professional Track, 2026 Edition"))
    info, text = pdf_text(pdf, tmp_path)
    assert pages(info) == 1
    assert "CERT-7K3M9QXH2P" in text


def test_a_remote_resource_cannot_slow_the_render_down(tmp_path):
    page = certificate().replace(
        "</head>", '<link rel="stylesheet" href="https://fonts.example.invalid/font.css"></head>').replace(
        '<div class="page">', '<div class="page"><img style="position:absolute;width:9mm;height:9mm" '
                              'src="http://10.255.255.1/tracker.png">')  # an address that never answers
    started = time.monotonic()
    pdf = render_pdf(page, timeout=20)
    assert time.monotonic() - started < 3, "the proxy 127.0.0.1:1 refuses every fetch at once"
    info, _ = pdf_text(pdf, tmp_path)
    assert pages(info) == 1


def test_local_files_cannot_be_read():
    page = certificate().replace("</body>", '<img src="file:///etc/hostname"></body>')
    with pytest.raises(RenderError, match="exited with code 1"):
        render_pdf(page)


def test_a_missing_binary_is_a_render_error():
    with pytest.raises(RenderError, match="not found at /nonexistent"):
        render_pdf(certificate(), binary="/nonexistent")


def test_a_binary_that_fails_is_a_render_error():
    with pytest.raises(RenderError, match="exited with code 1"):
        render_pdf(certificate(), binary="/bin/false")


def test_a_render_that_takes_too_long_is_stopped():
    started = time.monotonic()
    with pytest.raises(RenderError, match="did not finish within"):
        render_pdf(certificate(), timeout=0.01)
    assert time.monotonic() - started < 2


# --- the PNG preview -------------------------------------------------------------------------

def decode_png(data):
    """(width, height, RGB bytes) of an 8-bit RGB PNG whose rows use filter 0, decoded here with
    zlib, every chunk's CRC checked: independent of the encoder under test."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, []
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        at += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 3 + 1
    assert len(raw) == stride * height and all(raw[y * stride] == 0 for y in range(height))
    return width, height, b"".join(raw[y * stride + 1:(y + 1) * stride] for y in range(height))


def test_a_preview_is_a_valid_png_of_page_one_1200_pixels_wide(tmp_path):
    pdf = render_pdf(certificate())
    png = Wkhtmltopdf().preview(pdf)

    width, height, pixels = decode_png(png)
    assert (width, height) == (1200, 848)  # A4 landscape, 1200 px wide
    # The very pixels poppler draws for page one (its PPM, read here), nothing lost on the way.
    ppm = subprocess.run(["pdftoppm", "-singlefile", "-f", "1", "-l", "1", "-scale-to-x", "1200", "-scale-to-y", "-1",
                          "-"], input=pdf, capture_output=True, check=True).stdout
    assert ppm.startswith(b"P6\n1200 848\n255\n") and ppm[len(b"P6\n1200 848\n255\n"):] == pixels
    assert len(set(pixels[i:i + 3] for i in range(0, len(pixels), 3 * 97))) > 10  # a picture, not a blank page
    if shutil.which("pngfix"):  # libpng's checker, where it is installed, agrees
        (tmp_path / "preview.png").write_bytes(png)
        assert subprocess.run(["pngfix", str(tmp_path / "preview.png")], capture_output=True).returncode == 0


def test_a_preview_of_a_broken_pdf_is_a_render_error():
    with pytest.raises(RenderError, match="pdftoppm"):
        Wkhtmltopdf().preview(b"%PDF-1.4 not really")


def test_read_ppm_takes_comments_and_refuses_short_pixel_data():
    assert read_ppm(b"P6\n# made by hand\n2 1\n255\n" + bytes(6)) == (2, 1, bytes(6))
    with pytest.raises(ValueError):
        read_ppm(b"P6\n2 1\n255\n" + bytes(5))
    with pytest.raises(ValueError):
        read_ppm(b"P5\n2 1\n255\n" + bytes(2))
