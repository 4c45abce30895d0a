"""Staff's certificate design URLs: the layouts, the organisation's default and each course's
design, image uploads, a sample render, and a course's certificates in bulk (re-issue, ZIP).

A preview renders in the request (a wkhtmltopdf subprocess, ~0.2 s; gevent keeps serving
meanwhile) and stores nothing: no certificate, no file. Its body may carry an unsaved
``design`` to try before saving it.

What changes or hands out a course's certificates (its design, a preview, a bulk re-issue, the
ZIP of its PDFs with the students' names) is for that course's instructors and admins, as its
other edits are (``courses.require_editor``); reading a design is open to all staff.
"""
import bottle

from ..certificates import bulk, designs, rendering
from ..pagination import whole_page
from ..errors import ValidationError
from ..learning import courses
from ..schema import Form, Obj, Str
from ..web.bodies import UploadLimits, read_multipart

PREVIEW = Obj(format=Str(choices=("pdf", "png"), default="pdf"),
              studentName=Str(min=1, max=100, default="Sample Student", description="The name to print"),
              design=Obj(designs.DESIGN.fields, required=False, description="An unsaved design to try (default: "
                                                                           "the course's current one)"))
IMAGE_UPLOAD = UploadLimits(total_bytes=designs.MAX_IMAGE_BYTES + 64 * 1024)
IMAGE_FORM = Form(Obj(), files="file", description="A PNG or JPEG, at most 512 KiB and 4000 pixels a side")
MEDIA = {"pdf": "application/pdf", "png": "image/png"}


def list_layouts():
    return whole_page([designs.LAYOUT.dump(layout) for layout in designs.layouts()])


def get_default(db):
    return {"design": designs.DESIGN_OUT.dump(designs.current(db))}


def put_default(db, body, actor):
    return {"design": designs.DESIGN_OUT.dump(designs.save(db, None, body, actor))}


def get_course_design(db, id):
    courses.get(db, id)
    return {"design": designs.DESIGN_OUT.dump(designs.current(db, id))}


def put_course_design(db, id, body, actor):
    _editable(db, id, actor)
    return {"design": designs.DESIGN_OUT.dump(designs.save(db, id, body, actor))}


def preview(db, settings, urls, renderer, id, body, actor):
    course = _editable(db, id, actor)
    if body.get("design"):
        designs.check_images(db, body["design"])
    data = rendering.sample(db, course, renderer=renderer, urls=urls, org_name=settings.org_name,
                            student_name=body["studentName"], design=body.get("design"), format=body["format"])
    bottle.response.content_type = MEDIA[body["format"]]
    bottle.response.set_header("Content-Disposition", f'inline; filename="certificate-preview.{body["format"]}"')
    return data


def upload_image(db, storage, actor):
    _, found = read_multipart(bottle.request, IMAGE_UPLOAD, files_field="file", fields=(),  # one file
                              accept=lambda index, filename, stream: stream.read(designs.MAX_IMAGE_BYTES + 1))
    if not found:
        raise ValidationError({"file": "is required"})
    return {"_status": 201, "image": designs.IMAGE.dump(designs.add_image(db, storage, found[0], actor))}


def reissue_all(db, id, actor):
    _editable(db, id, actor)
    return {"_status": 202, "batch": bulk.BATCH.dump(bulk.start(db, id, actor))}


def batch(db, id):
    return {"batch": bulk.BATCH.dump(bulk.progress(db, id))}


def download_all(db, storage, id, actor):
    _editable(db, id, actor)
    name, chunks = bulk.archive(db, storage, id)
    bottle.response.content_type = "application/zip"
    bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}"')
    return chunks


def _editable(db, course_id, actor):
    return courses.require_editor(courses.get(db, course_id), actor)
