"""Self-verifying certificate files: the signed credential inside the PNG and the PDF, the facts
in the PDF's metadata, and the REVOKED stamp.

- PNG: an Open Badges 3.0 baked image. The compact VC-JWT is the text of one ``iTXt`` chunk with
  the keyword ``openbadgecredential``, uncompressed, empty language tag and translated keyword
  (Open Badges 3.0, "Baking"); it goes right after ``IHDR`` so a reader finds it at once, and a
  chunk already there is replaced (an image never holds two).
- PDF: the same JWT as an embedded file, ``openbadgecredential.jwt`` (the PDF's attachments),
  and the student's name, the course and the certificate id in the document information
  (``/Title``, ``/Subject``, ``/Keywords`` and our ``/StudentName``, ``/CourseTitle``,
  ``/CertificateId``) and in XMP. wkhtmltopdf's text layer loses Devanagari conjuncts (its
  glyphs map to no characters), so the metadata is what a machine reads exactly, in any script.
- A file cannot hold its own hash, so the credential baked into the files names the PDF by its
  verify URL only; the credential served by the API adds the PDF's SHA-256 (``badges.build``).
- The REVOKED stamp is drawn over every page of the finished PDF (a base-14 font, so nothing is
  embedded or fetched); the stamped copy is made by a follow-up job right after the issue
  (``stamping``), so a revocation needs no render and no upload of its own.

``extract`` reads the JWT back out of a PNG or a PDF (``python lms.py verify-credential``).
"""
import io
import struct
import zlib
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf import PageObject
from pypdf.generic import DecodedStreamObject, DictionaryObject, FloatObject, NameObject

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"openbadgecredential"
ATTACHMENT = "openbadgecredential.jwt"
NS = "https://lms.example/ns/certificate/1.0/"  # our XMP namespace; a name, never fetched


class NotBaked(ValueError):
    """The file is no PNG or PDF, or holds no credential."""


# --- PNG ---------------------------------------------------------------------------------

def _chunks(png):
    if not png.startswith(PNG_SIGNATURE):
        raise NotBaked("not a PNG file")
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        yield kind, png[at + 8:at + 8 + length], png[at:at + 12 + length]
        at += 12 + length


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bake_png(png, token):
    """``png`` with ``token`` in its one ``iTXt`` chunk ``openbadgecredential``."""
    baked = _chunk(b"iTXt", KEYWORD + b"\0\0\0" + b"\0" + b"\0" + token.encode("utf-8"))
    out = [PNG_SIGNATURE]
    for kind, data, raw in _chunks(png):
        if kind == b"iTXt" and data.startswith(KEYWORD + b"\0"):
            continue
        out.append(raw)
        if kind == b"IHDR":
            out.append(baked)
    return b"".join(out)


def png_credential(png):
    for kind, data, _ in _chunks(png):
        if kind == b"iTXt" and data.startswith(KEYWORD + b"\0"):
            rest = data[len(KEYWORD) + 1:]
            compressed, text = rest[0], rest[2:].split(b"\0", 2)[-1]
            return (zlib.decompress(text) if compressed else text).decode("utf-8").strip()
    raise NotBaked("the PNG holds no openbadgecredential chunk")


def png_size(png):
    """(width, height) from the ``IHDR`` chunk."""
    for kind, data, _ in _chunks(png):
        if kind == b"IHDR" and len(data) >= 8:
            return struct.unpack(">II", data[:8])
        break
    raise NotBaked("the PNG has no IHDR chunk")


# --- PDF ---------------------------------------------------------------------------------

def finish_pdf(pdf, *, token, student_name, course_title, cert_id, organisation):
    """The renderer's PDF (its bytes, or one of ``pages``) with the credential attached and the
    facts in its metadata."""
    writer = _writer(pdf)
    writer.add_metadata({"/Title": f"{course_title}: {student_name}", "/Author": organisation,
                         "/Subject": course_title, "/Keywords": cert_id, "/StudentName": student_name,
                         "/CourseTitle": course_title, "/CertificateId": cert_id})
    writer.xmp_metadata = _xmp(student_name, course_title, cert_id, organisation).encode("utf-8")
    stream = writer.root_object["/Metadata"].get_object()
    stream[NameObject("/Type")], stream[NameObject("/Subtype")] = NameObject("/Metadata"), NameObject("/XML")
    if token:
        writer.add_attachment(ATTACHMENT, token.encode("utf-8"))
    return _bytes(writer)


def pages(pdf):
    """The pages of ``pdf`` (what ``pdf.combine``'s pages became), each to be finished into a
    certificate of its own by ``finish_pdf``."""
    return list(PdfReader(io.BytesIO(pdf)).pages)


def pdf_credential(pdf):
    try:
        attachments = PdfReader(io.BytesIO(pdf)).attachments
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise NotBaked(f"not a readable PDF ({exc})") from None
    if ATTACHMENT not in attachments:
        raise NotBaked(f"the PDF has no {ATTACHMENT} attachment")
    return attachments[ATTACHMENT][0].decode("utf-8").strip()


def pdf_facts(pdf):
    """What the metadata says: {studentName, courseTitle, certId} (for tests and readers)."""
    info = PdfReader(io.BytesIO(pdf)).metadata or {}
    return {"studentName": info.get("/StudentName"), "courseTitle": info.get("/CourseTitle"),
            "certId": info.get("/CertificateId")}


def stamp_revoked(pdf, verify_url):
    """``pdf`` with a large red REVOKED across every page and where to see its status."""
    writer = _writer(pdf)
    for page in writer.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        url = verify_url.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stamp = PageObject.create_blank_page(width=width, height=height)
        stamp[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/LmsStampFont"): DictionaryObject({
                NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica-Bold")})}),
            NameObject("/ExtGState"): DictionaryObject({NameObject("/LmsStampGS"): DictionaryObject({
                NameObject("/ca"): FloatObject(0.55), NameObject("/CA"): FloatObject(0.55)})})})
        overlay = DecodedStreamObject()
        overlay.set_data((
            f"q /LmsStampGS gs 0.8 0.1 0.1 rg 0.8 0.1 0.1 RG 6 w\n"
            f"40 40 {width - 80:.1f} {height - 80:.1f} re S\n"
            f"BT /LmsStampFont {height / 5:.1f} Tf 0.906 0.423 -0.423 0.906 {width * 0.2:.1f} {height * 0.22:.1f} Tm"
            f" (REVOKED) Tj ET\n"
            f"BT /LmsStampFont 14 Tf 60 {height - 66:.1f} Td (This certificate was revoked. Its status: {url}) Tj ET Q\n"
        ).encode("latin-1", "replace"))
        stamp[NameObject("/Contents")] = writer._add_object(overlay)
        page.merge_page(stamp)
    return _bytes(writer)


def extract(data):
    """The compact JWT inside a baked PNG or a certificate PDF; NotBaked otherwise."""
    if data.startswith(PNG_SIGNATURE):
        return png_credential(data)
    if data.startswith(b"%PDF-"):
        return pdf_credential(data)
    raise NotBaked("neither a PNG nor a PDF")


def _writer(pdf):
    if isinstance(pdf, bytes):
        return PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer = PdfWriter()
    writer.add_page(pdf)
    return writer


def _bytes(writer):
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _xmp(student_name, course_title, cert_id, organisation):
    name, course, ident, org = (escape(v) for v in (student_name, course_title, cert_id, organisation))
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
 xmlns:lms="{NS}">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{course}: {name}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{org}</rdf:li></rdf:Seq></dc:creator>
<dc:identifier>{ident}</dc:identifier>
<pdf:Keywords>{ident}</pdf:Keywords>
<lms:studentName>{name}</lms:studentName><lms:courseTitle>{course}</lms:courseTitle><lms:certificateId>{ident}</lms:certificateId>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""

