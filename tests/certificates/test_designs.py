"""Certificate designs: the layouts, the organisation default and each course's design, the images
they use (PNG/JPEG by their bytes, SVG refused, size-capped), each layout rendered with every
option (read back with pdftotext and pdfimages), previews that create nothing, the design version
a certificate records, and names in any script recoverable from the PDF's metadata.

With ``LMS_TEST_ARTIFACTS=1`` the rendering test also writes each layout's PNG to
``tests/artifacts/certificates/`` (the pictures in the README's "Certificate designs")."""
import io
import os
import subprocess
import tempfile

import pytest
from pypdf import PdfReader

from lms.certificates import baking
from lms.db import new_id, now
from support import ROOT
from support.certificates import drain, pdf_text, stored_pdf
from support.factories import SVG, TEXT, create_course, issued_certificate, jpeg_image, png_image, teaching

LAYOUTS = ("classic", "modern", "compact")
ARTIFACTS = ROOT / "tests" / "artifacts" / "certificates"


def upload(client, data, name="logo.png", status=201):
    return client.post("/api/admin/certificate-images", upload_files=[("file", name, data)], status=status)


def design_url(course):
    return f"/api/admin/courses/{course['_id']}/certificate-design"


def full_design(staff, layout="classic"):
    logo = upload(staff, png_image(120, 40)).json["image"]
    signature = upload(staff, jpeg_image(160, 50), "signature.jpg").json["image"]
    return {"layout": layout, "logoImageId": logo["id"], "accentColor": "#0b6e4f", "title": "Diploma",
            "subtitle": "in Applied Data Work", "showGrade": True, "organisationName": "Acme Academy",
            "organisationUrl": "https://acme.example",
            "signatories": [{"name": "Jane Doe", "title": "Director", "signatureImageId": signature["id"]},
                            {"name": "Ravi Rao", "title": "Lead Mentor"}]}


def images_in(pdf):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        listing = subprocess.run(["pdfimages", "-list", file.name], capture_output=True, text=True, check=True).stdout
    return sorted((int(row.split()[3]), int(row.split()[4])) for row in listing.splitlines()[2:])


def test_the_layouts_are_listed(signed_in):
    page = signed_in("instructor").get("/api/admin/certificate-layouts").json
    assert [item["name"] for item in page["items"]] == list(LAYOUTS)
    assert (page["page"], page["total"]) == (1, 3) and all(item["description"] for item in page["items"])


def test_a_course_uses_the_default_until_it_has_its_own_and_each_save_is_a_version(signed_in, db):
    course = create_course(db)
    admin, staff = signed_in("admin"), signed_in("instructor")
    teaching(db, course, staff)
    built_in = staff.get(design_url(course)).json["design"]
    assert (built_in["source"], built_in["version"], built_in["layout"], built_in["title"]) == \
        ("built-in", 0, "classic", "Certificate")

    staff.put_json("/api/admin/certificate-design", {"layout": "modern"}, status=403)  # the default: admins
    admin.put_json("/api/admin/certificate-design", {"layout": "modern", "title": "Award"})
    inherited = staff.get(design_url(course)).json["design"]
    assert (inherited["source"], inherited["version"], inherited["layout"]) == ("default", 1, "modern")

    own = staff.put_json(design_url(course), {"layout": "compact", "accentColor": "#112233"}).json["design"]
    assert (own["source"], own["version"], own["layout"], own["title"]) == ("course", 1, "compact", "Certificate")
    assert staff.put_json(design_url(course), {"layout": "classic"}).json["design"]["version"] == 2
    [entry, _] = db.auditLogs.find({"action": "certificate.design", "targetId": course["_id"]}).sort("timestamp", -1)
    assert entry["details"] == {"version": 2, "layout": "classic"}


@pytest.mark.parametrize("body, field", [
    ({"layout": "baroque"}, "layout"), ({"accentColor": "red"}, "accentColor"),
    ({"signatories": [{"name": f"S{n}"} for n in range(5)]}, "signatories"),
    ({"logoImageId": "0" * 24}, "logoImageId"),
    ({"signatories": [{"name": "A", "signatureImageId": "0" * 24}]}, "signatories.0.signatureImageId"),
    ({"colour": "#000000"}, "colour"), ({"organisationUrl": "javascript:alert(1)"}, "organisationUrl")])
def test_an_invalid_design_is_refused_and_nothing_changes(signed_in, db, body, field):
    course = create_course(db)
    staff = signed_in("instructor")
    teaching(db, course, staff)
    error = staff.put_json(design_url(course), body, status=400).json["error"]
    assert field in error["fields"]
    assert db.certificateDesigns.count_documents({}) == 0
    staff.put_json(f"/api/admin/courses/{new_id()}/certificate-design", {}, status=404)


def test_images_are_png_or_jpeg_by_their_bytes_and_svg_is_refused(signed_in, db, client):
    staff = signed_in("instructor")
    image = upload(staff, png_image(120, 40)).json["image"]
    assert (image["contentType"], image["width"], image["height"]) == ("image/png", 120, 40)
    assert client.get(image["url"].removeprefix("https://lms.test")).body == png_image(120, 40)
    photo = upload(staff, jpeg_image(160, 50), "signature.jpg").json["image"]
    assert (photo["contentType"], photo["width"], photo["height"]) == ("image/jpeg", 160, 50)

    svg = upload(staff, SVG, "logo.svg", status=415).json["error"]
    assert svg["code"] == "unsupported_image_type" and "SVG" in svg["message"]
    assert upload(staff, TEXT, "logo.png", status=415).json["error"]["code"] == "unsupported_image_type"
    assert upload(staff, png_image(1200, 1200, (1, 2, 3))[:50] + os.urandom(600 * 1024), status=413)
    assert upload(staff, png_image(4100, 10), status=400).json["error"]["code"] == "invalid_image"
    assert upload(staff, b"", status=400).json["error"]["code"] in ("empty_file", "validation_error")
    assert db.certificateImages.count_documents({}) == 2
    upload(signed_in("student"), png_image(), status=403)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_renders_every_option(signed_in, db, settings, layout):
    course = create_course(db, title="MERN Bootcamp", price=0)
    staff = signed_in("instructor")
    teaching(db, course, staff)
    staff.put_json(design_url(course), full_design(staff, layout))
    student = signed_in(name="Amit Kumar")
    db.submissions.insert_one({"_id": new_id(), "userId": student.user["_id"], "courseId": course["_id"],
                               "status": "approved", "grade": "A+", "reviewedAt": now(), "createdAt": now()})
    cert = issued_certificate(db, settings, user=student.user, course=course)

    assert cert["design"] == {"source": "course", "version": 1, "layout": layout}
    pdf = stored_pdf(settings, cert)
    text = pdf_text(pdf)
    for expected in ("Diploma", "Applied Data Work", "Acme Academy", "acme.example", "Amit Kumar", "MERN Bootcamp",
                     "Jane Doe", "Director", "Ravi Rao", "Lead Mentor", "Grade: A+", cert["certId"]):
        assert expected.lower() in text.lower(), expected
    assert images_in(pdf) == [(120, 40), (160, 50)]  # the logo and the signature, inlined
    preview = stored_pdf(settings, {**cert, "storageKey": f"certificates/{cert['certId']}.png"})
    assert baking.png_size(preview) == (1200, 848)
    if os.environ.get("LMS_TEST_ARTIFACTS") == "1":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{layout}.png").write_bytes(preview)


def test_options_left_out_are_left_out(signed_in, db, settings):
    course = create_course(db, price=0)
    staff = signed_in("instructor")
    teaching(db, course, staff)
    staff.put_json(design_url(course), {"layout": "modern", "showGrade": False})
    cert = issued_certificate(db, settings, course=course)
    pdf = stored_pdf(settings, cert)
    assert images_in(pdf) == [] and "Grade" not in pdf_text(pdf)


def test_a_preview_renders_a_sample_and_creates_nothing(signed_in, db, settings):
    course = create_course(db, title="MERN Bootcamp")
    staff = signed_in("instructor")
    teaching(db, course, staff)
    url = f"/api/admin/courses/{course['_id']}/certificate-preview"
    sample = staff.post_json(url, {"studentName": "Zoë Ñúñez"})
    assert sample.content_type == "application/pdf"
    assert "Zoë Ñúñez" in pdf_text(sample.body) and "MERN Bootcamp" in pdf_text(sample.body)
    png = staff.post_json(url, {"format": "png"})
    assert png.content_type == "image/png" and baking.png_size(png.body)[0] == 1200

    unsaved = full_design(staff, "compact")
    tried = staff.post_json(url, {"design": unsaved, "studentName": "Sample Person"})
    assert "Diploma" in pdf_text(tried.body) and images_in(tried.body) == [(120, 40), (160, 50)]
    assert db.certificates.count_documents({}) == 0 and db.certificateDesigns.count_documents({}) == 0
    assert not (settings.data_dir / "files" / "certificates").exists()
    staff.post_json(f"/api/admin/courses/{new_id()}/certificate-preview", {}, status=404)
    assert staff.post_json(url, {"design": {"logoImageId": "0" * 24}}, status=400).json["error"]["fields"]


def test_a_reissue_renders_with_the_design_current_then(signed_in, db, settings):
    course = create_course(db, price=0)
    staff = signed_in("instructor")
    teaching(db, course, staff)
    staff.put_json(design_url(course), {"layout": "classic", "title": "Certificate"})
    cert = issued_certificate(db, settings, course=course)
    assert cert["design"]["version"] == 1 and "Diploma" not in pdf_text(stored_pdf(settings, cert))

    staff.put_json(design_url(course), {"layout": "modern", "title": "Diploma"})
    staff.post_json(f"/api/admin/certificates/{cert['certId']}/issue", {})
    drain(db, settings)
    again = db.certificates.find_one({"_id": cert["_id"]})
    assert again["design"] == {"source": "course", "version": 2, "layout": "modern"}
    assert "Diploma" in pdf_text(stored_pdf(settings, again)) and again["hash"] != cert["hash"]
    assert staff.get("/api/admin/certificates").json["items"][0]["design"]["version"] == 2


def test_only_a_course_s_instructors_and_admins_change_or_take_its_certificates(signed_in, db, settings):
    course = create_course(db, price=0)
    cert = issued_certificate(db, settings, course=course)
    owner, other, admin = signed_in("instructor"), signed_in("instructor"), signed_in("admin")
    teaching(db, course, owner)
    owner.put_json(design_url(course), {"layout": "modern"})
    before = db.certificateDesigns.find_one({"courseId": course["_id"]}, sort=[("version", -1)])
    base = f"/api/admin/courses/{course['_id']}"
    for response in (other.put_json(design_url(course), {"layout": "compact"}, status=403),
                     other.post_json(base + "/certificate-preview", {}, status=403),
                     other.post_json(base + "/certificates/reissue", {}, status=403),
                     other.get(base + "/certificates.zip", status=403)):
        assert response.json["error"]["code"] == "not_course_instructor"
    assert db.certificateDesigns.find_one({"courseId": course["_id"]}, sort=[("version", -1)]) == before
    assert "reissueBatch" not in db.certificates.find_one({"_id": cert["_id"]})
    assert other.get(design_url(course)).json["design"]["layout"] == "modern"  # reading stays open to staff
    admin.post_json(base + "/certificates/reissue", {}, status=202)


@pytest.mark.parametrize("name", ["प्रिया शर्मा", "فاطمة الزهراء", "王小明"])
def test_names_in_any_script_are_exactly_in_the_pdf_metadata(db, settings, name):
    course = create_course(db, title="डेटा विज्ञान · علم البيانات · 数据科学", price=0)
    cert = issued_certificate(db, settings, course=course, name=name)
    pdf = stored_pdf(settings, cert)
    assert baking.pdf_facts(pdf) == {"studentName": name, "courseTitle": course["title"], "certId": cert["certId"]}
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert (info.title, info.subject, info["/Keywords"]) == (f"{course['title']}: {name}", course["title"],
                                                             cert["certId"])
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:  # and as poppler reads it
        file.write(pdf)
        file.flush()
        meta = subprocess.run(["pdfinfo", "-meta", file.name], capture_output=True, text=True, check=True).stdout
        title = subprocess.run(["pdfinfo", file.name], capture_output=True, text=True, check=True).stdout
    assert f"<lms:studentName>{name}</lms:studentName>" in meta and f"{course['title']}: {name}" in title
