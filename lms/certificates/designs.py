"""Certificate designs: which layout a course's certificates use, with what texts, colour, logo
and signatories, and the images those need.

A design belongs to a course (``certificateDesigns`` ``_id`` = the course id) or is the
organisation's default (``_id`` = ``"default"``); a course without its own uses the default, and
with neither the built-in classic design applies (``BUILT_IN``). A course design is whole, not
a set of overrides: saving one copies nothing from the default, so a later change of the default
leaves it as it is. Each save increments the design's ``version``; every certificate records the
design (``source``, ``version``, ``layout``) it was rendered with, and a re-issue renders with
the design current at that moment.

Images (logo, signatures) are uploaded on their own (``add_image``) and referred to by id. They
are PNG or JPEG, judged by their bytes, at most ``MAX_IMAGE_BYTES`` and ``MAX_IMAGE_SIDE``
pixels a side. SVG is refused, not sanitised: an SVG is a document that can carry scripts and
external references, and a sanitiser we wrote would be the weak point; a PNG export is a
one-click step in every design tool. Each image is stored through the storage backend (its URL
is for people) and its bytes are also kept in ``certificateImages``, because renders inline
images as data: URIs (the renderer has no network) and must not depend on the storage being
reachable.
"""
import hashlib
import struct

from bson import Binary
from pymongo import ReturnDocument

from .. import audit
from ..db import new_id, now
from ..errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationError
from ..schema import Bool, Id, Integer, List, ListOf, Obj, OneOf, Shape, Str, Text, Timestamp, Url
from ..schema import Boolean as BooleanOut
from ..adapters.storage import kinds
from . import baking
from .pdf import LAYOUTS

DEFAULT = "default"
MAX_IMAGE_BYTES = 512 * 1024
MAX_IMAGE_SIDE = 4000
MAX_SIGNATORIES = 4
BUILT_IN = {"layout": "classic", "logoImageId": None, "accentColor": "#1f3352", "title": "Certificate",
            "subtitle": "of Completion", "signatories": [], "showGrade": False, "organisationName": None,
            "organisationUrl": None}

SIGNATORY = Obj(name=Str(min=1, max=80), title=Str(max=80, default=""),
                signatureImageId=Id(required=False, nullable=True, description="An uploaded signature image"))
DESIGN = Obj(
    layout=Str(choices=tuple(LAYOUTS), default="classic"),
    logoImageId=Id(required=False, nullable=True, description="An uploaded image (POST /api/admin/certificate-images)"),
    accentColor=Str(pattern=r"#[0-9a-fA-F]{6}", default="#1f3352", description="#rrggbb"),
    title=Str(min=1, max=60, default="Certificate"), subtitle=Str(max=80, default="of Completion"),
    signatories=List(SIGNATORY, max=MAX_SIGNATORIES, default=list),
    showGrade=Bool(default=False, description="Print the mentor's grade of the approved project"),
    organisationName=Str(max=100, required=False, nullable=True, description="Default: LMS_ORG_NAME"),
    organisationUrl=Url(required=False, nullable=True))

IMAGE = Shape("CertificateImage", {
    "id": Text("_id"), "url": Text(format="uri"), "contentType": OneOf(("image/png", "image/jpeg")),
    "width": Integer(), "height": Integer(), "bytes": Integer("size"), "createdAt": Timestamp()},
    description="An image a certificate design may use (logo, signature)")
SIGNATORY_OUT = Shape("Signatory", {"name": Text(), "title": Text(), "signatureImageId": Text(nullable=True)})
DESIGN_OUT = Shape("CertificateDesign", {
    "courseId": Text(nullable=True), "source": OneOf(("course", "default", "built-in"),
                                                     description="Where this design comes from"),
    "version": Integer(), "layout": OneOf(tuple(LAYOUTS)), "logoImageId": Text(nullable=True),
    "accentColor": Text(), "title": Text(), "subtitle": Text(), "signatories": ListOf(SIGNATORY_OUT),
    "showGrade": BooleanOut(), "organisationName": Text(nullable=True), "organisationUrl": Text(nullable=True),
    "updatedAt": Timestamp(nullable=True)},
    description="How a course's certificates look (version counts the saves)")
LAYOUT = Shape("CertificateLayout", {"name": Text(), "description": Text()}, description="A built-in layout")


def layouts():
    return [{"name": name, "description": text} for name, text in LAYOUTS.items()]


def current(db, course_id=None):
    """The design a certificate of ``course_id`` (None: the default) gets now, with where it comes
    from: ``{**fields, source, version, courseId, updatedAt}``."""
    ids = ([course_id] if course_id else []) + [DEFAULT]
    found = {d["_id"]: d for d in db.certificateDesigns.find({"_id": {"$in": ids}})}
    for _id in ids:
        if _id in found:
            doc = found[_id]
            return {**BUILT_IN, **{k: doc[k] for k in BUILT_IN if k in doc}, "version": doc["version"],
                    "source": "default" if _id == DEFAULT else "course", "courseId": course_id,
                    "updatedAt": doc.get("updatedAt")}
    return {**BUILT_IN, "version": 0, "source": "built-in", "courseId": course_id, "updatedAt": None}


def save(db, course_id, fields, actor):
    """Replace the design of ``course_id`` (None: the default) with ``fields`` (validated by
    ``DESIGN``); every image it names must exist. Returns the design as ``current`` shows it."""
    if course_id and not db.courses.count_documents({"_id": course_id}, limit=1):
        raise NotFound("Course not found")
    check_images(db, fields)
    _id = course_id or DEFAULT
    stamp = now()
    doc = db.certificateDesigns.find_one_and_update(
        {"_id": _id}, {"$set": {**fields, "updatedAt": stamp, "updatedBy": actor.id}, "$inc": {"version": 1},
                       "$setOnInsert": {"createdAt": stamp}},
        upsert=True, return_document=ReturnDocument.AFTER)
    audit.record(db, actor, "certificate.design", "course" if course_id else "organisation", _id,
                 version=doc["version"], layout=fields["layout"])
    return current(db, course_id)


def check_images(db, fields):
    wanted = {"logoImageId": fields.get("logoImageId")}
    wanted.update({f"signatories.{i}.signatureImageId": s.get("signatureImageId")
                   for i, s in enumerate(fields.get("signatories") or [])})
    ids = {v for v in wanted.values() if v}
    known = {d["_id"] for d in db.certificateImages.find({"_id": {"$in": list(ids)}}, {"_id": 1})}
    missing = {field: "is not an uploaded image" for field, v in wanted.items() if v and v not in known}
    if missing:
        raise ValidationError(missing)


def resolve(db, course_id, override=None):
    """The design to render for ``course_id`` (or ``override``, an unsaved one, for a preview),
    its images loaded: ``logo`` and each signatory's ``signature`` are ``{contentType, data}``."""
    design = {**current(db, course_id), **(override or {})}
    ids = [i for i in [design.get("logoImageId")] + [s.get("signatureImageId") for s in design["signatories"]] if i]
    images = {d["_id"]: {"contentType": d["contentType"], "data": bytes(d["data"])}
              for d in (db.certificateImages.find({"_id": {"$in": ids}}) if ids else ())}
    return {**design, "logo": images.get(design.get("logoImageId")),
            "signatories": [{**s, "signature": images.get(s.get("signatureImageId"))} for s in design["signatories"]]}


def add_image(db, storage, data, actor):
    """Check and store an uploaded image; returns its record (``IMAGE``)."""
    if not data:
        raise BadRequest("The file is empty", code="empty_file", fields={"file": "is empty"})
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge(f"An image may be at most {MAX_IMAGE_BYTES // 1024} KiB", code="image_too_large")
    kind = kinds.sniff(data[:kinds.SNIFF_BYTES], complete=False)
    if kind is None or kind[0] not in ("image/png", "image/jpeg"):
        hint = " SVG is not accepted (it can carry scripts): export it as PNG." if _looks_like_svg(data) else ""
        raise UnsupportedMediaType("An image must be a PNG or JPEG file." + hint, code="unsupported_image_type")
    width, height = _size(data, kind[0])
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise BadRequest(f"An image may be at most {MAX_IMAGE_SIDE} pixels a side", code="invalid_image")
    _id = new_id()
    key = f"certificate-images/{_id}.{kind[1]}"
    url = storage.put(key, data, kind[0])
    image = {"_id": _id, "contentType": kind[0], "size": len(data), "width": width, "height": height,
             "sha256": hashlib.sha256(data).hexdigest(), "data": Binary(data), "storageKey": key, "url": url,
             "createdAt": now(), "createdBy": actor.id}
    db.certificateImages.insert_one(image)
    audit.record(db, actor, "certificate.image", "certificateImage", _id, contentType=kind[0], bytes=len(data))
    return image


def _looks_like_svg(data):
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<?xml", b"<svg")) or b"<svg" in head


def _size(data, content_type):
    """(width, height) from the file's header; an unreadable one is a 400."""
    try:
        if content_type == "image/png":
            return baking.png_size(data)
        return _jpeg_size(data)
    except (baking.NotBaked, struct.error, IndexError) as exc:
        raise BadRequest(f"The image cannot be read ({exc})", code="invalid_image") from None


def _jpeg_size(data):
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            raise IndexError("not a JPEG marker")
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    raise IndexError("no JPEG frame header")
