"""A course's thumbnail: the image a catalog card shows.

Decisions:
- PNG or JPEG, judged by the bytes (``kinds.sniff``), at most ``MAX_BYTES`` (2 MiB): a card
  image needs no more, and anything else (SVG, which can carry scripts, included) is 415.
- Each upload is stored under a new key, ``courses/<id>/thumbnail-<token>.<ext>``, and the
  previous file is deleted once the course points at the new one; the token is the ``v`` of
  the stable URL the course shows (``courses.COURSE_CARD.thumbnailUrl``), so browsers and CDNs
  may keep an image for good. If the course cannot be updated the new file is deleted again:
  no orphan, no course pointing at a missing file.
- Only the course's editors (``courses.require_editor``) may change it; every change is audited
  (``course.thumbnail``).
"""
import secrets
from collections import namedtuple

from .. import audit
from ..adapters.storage import kinds as files
from ..db import now
from ..errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from . import authoring, courses

MAX_BYTES = 2 * 1024 * 1024
UPLOAD_BYTES = MAX_BYTES + 64 * 1024  # the image and the multipart framing around it
IMAGES = ("image/png", "image/jpeg")

Image = namedtuple("Image", "data content_type extension")


def accept(index, filename, stream):
    """The uploaded file as an ``Image``, or the error that refuses it (a second file never gets
    here: the reader takes one, ``too_many_files``)."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge("A thumbnail may be at most 2 MB", code="file_too_large",
                              fields={"file": "is larger than 2 MB"})
    if not data:
        raise BadRequest("The image is empty", code="empty_file", fields={"file": "is empty"})
    kind = files.sniff(data)
    if kind is None or kind[0] not in IMAGES:
        raise UnsupportedMediaType("A thumbnail must be a PNG or JPEG image", code="unsupported_file_type",
                                   fields={"file": "must be a PNG or JPEG image"})
    return Image(data, *kind)


def replace(db, storage, course_id, image, actor):
    """Store ``image`` as the course's thumbnail; returns the course."""
    courses.require_editor(courses.get(db, course_id), actor)
    token = secrets.token_hex(8)
    key = f"courses/{course_id}/thumbnail-{token}.{image.extension}"
    url = storage.put(key, image.data, image.content_type)
    stored = {"key": key, "url": url, "token": token, "contentType": image.content_type,
              "size": len(image.data), "uploadedAt": now()}
    try:
        before, course = authoring.change(db, course_id, actor, lambda current: {"thumbnail": stored})
    except BaseException:
        authoring.discard(storage, key)
        raise
    _forget(storage, before)
    audit.record(db, actor, "course.thumbnail", "course", course_id, contentType=image.content_type,
                 size=len(image.data))
    return course


def remove(db, storage, course_id, actor):
    """The course without its thumbnail; returns the course."""
    before, course = authoring.change(db, course_id, actor,
                                      lambda current: {"thumbnail": None} if current.get("thumbnail") else None)
    if course is not before:
        _forget(storage, before)
        audit.record(db, actor, "course.thumbnail", "course", course_id, removed=True)
    return course


def location(db, course_id):
    """Where the course's thumbnail is stored now (what its stable URL redirects to)."""
    thumbnail = courses.get(db, course_id).get("thumbnail")
    if not thumbnail:
        raise NotFound("This course has no thumbnail")
    return thumbnail


def _forget(storage, before):
    if before.get("thumbnail"):
        authoring.discard(storage, before["thumbnail"]["key"])
