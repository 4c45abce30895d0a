"""Course thumbnails: uploaded through the one multipart reader, typed by their bytes, capped,
stored through the storage adapter and shown at a stable URL."""
from urllib.parse import parse_qs, urlsplit

import pytest

from lms.learning.thumbnails import MAX_BYTES
from support.app import app_with, post_bytes
from support.factories import EXE, JPEG, PDF, PNG, create_course, create_user, sign_in
from support.submissions import stored_files


def url(course):
    return f"/api/admin/courses/{course['_id']}/thumbnail"


def upload(client, course, files, status=200):
    return client.put(url(course), {"note": "x"}, upload_files=files, content_type="multipart/form-data",
                      status=status)


def test_an_uploaded_image_is_shown_at_a_stable_url_that_redirects_to_the_file(signed_in, client, db, settings):
    course = create_course(db)
    admin = signed_in("admin")
    shown = upload(admin, course, [("file", "cover.png", PNG)]).json["course"]
    address = urlsplit(shown["thumbnailUrl"])
    token = parse_qs(address.query)["v"][0]
    assert f"{address.scheme}://{address.netloc}{address.path}" == f"https://lms.test/api/courses/{course['_id']}/thumbnail"
    assert client.get("/api/courses").json["items"][0]["thumbnailUrl"] == shown["thumbnailUrl"]
    answer = client.get(f"{address.path}?{address.query}", status=303)
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    stored = urlsplit(answer.headers["Location"])
    assert stored.path == f"/files/courses/{course['_id']}/thumbnail-{token}.png"
    image = client.get(stored.path)
    assert (image.body, image.content_type) == (PNG, "image/png")
    assert client.get(address.path, status=303).headers["Cache-Control"] == "no-store"  # no v: not for keeps
    entry = db.auditLogs.find_one({"action": "course.thumbnail"})
    assert (entry["actorId"], entry["details"]) == (admin.user["_id"], {"contentType": "image/png", "size": len(PNG)})


def test_a_new_image_replaces_the_old_file_and_removing_it_deletes_it(signed_in, client, db, settings):
    course = create_course(db)
    admin = signed_in("admin")
    first = upload(admin, course, [("file", "a.png", PNG)]).json["course"]["thumbnailUrl"]
    second = upload(admin, course, [("file", "b.jpg", JPEG)]).json["course"]["thumbnailUrl"]
    assert first != second
    assert [p.name.rsplit(".", 1)[1] for p in stored_files(settings)] == ["jpg"]
    assert admin.delete(url(course)).json["course"]["thumbnailUrl"] is None
    assert stored_files(settings) == []
    client.get(urlsplit(second).path, status=404)
    upload(admin, course, [("file", "c.png", PNG)])
    admin.delete(f"/api/admin/courses/{course['_id']}")
    assert stored_files(settings) == []  # a deleted course takes its image along


@pytest.mark.parametrize("files, status, code", [
    ([("file", "cover.png", EXE)], 415, "unsupported_file_type"),
    ([("file", "cover.png", PDF)], 415, "unsupported_file_type"),
    ([("file", "cover.svg", b"<svg onload='alert(1)'/>")], 415, "unsupported_file_type"),
    ([("file", "cover.png", b"")], 400, "empty_file"),
    ([("file", "cover.png", PNG + bytes(MAX_BYTES))], 413, "file_too_large"),
    ([("file", "a.png", PNG), ("file", "b.png", PNG)], 400, "too_many_files"),
    ([], 400, "validation_error"),
])
def test_anything_but_one_small_png_or_jpeg_is_refused_and_nothing_stored(signed_in, db, settings, files, status,
                                                                          code):
    course = create_course(db)
    response = upload(signed_in("admin"), course, files, status=status)
    assert response.json["error"]["code"] == code
    assert stored_files(settings) == [] and db.courses.find_one({"_id": course["_id"]}) == course
    assert db.auditLogs.count_documents({"action": "course.thumbnail"}) == 0


def test_exactly_two_megabytes_is_accepted(signed_in, db):
    course = create_course(db)
    upload(signed_in("admin"), course, [("file", "big.png", PNG + bytes(MAX_BYTES - len(PNG)))])


def test_only_its_editors_change_a_courses_image(signed_in, client, db, settings):
    course = create_course(db)
    for caller, status in ((signed_in("instructor"), 403), (signed_in(), 403), (client, 401)):
        upload(caller, course, [("file", "a.png", PNG)], status=status)
        caller.delete(url(course), status=status)
    assert stored_files(settings) == []
    post_bytes(signed_in("admin"), url(course), b"x", "text/plain", 405)  # PUT and DELETE only


def test_no_image_is_a_404_and_so_is_an_unknown_course(client, db):
    course = create_course(db)
    assert client.get(f"/api/courses/{course['_id']}/thumbnail", status=404).json["error"]["code"] == "not_found"
    client.get("/api/courses/0123456789abcdef01234567/thumbnail", status=404)


def test_images_go_to_cloudinary_when_it_is_the_storage(make_settings, cloudinary_double):
    with app_with(make_settings, CLOUDINARY_URL=cloudinary_double.url) as (runtime, app):
        course = create_course(runtime.db)
        admin = sign_in(app, create_user(runtime.db, "admin"))
        shown = admin.put(url(course), upload_files=[("file", "cover.jpg", JPEG)]).json["course"]
        [key] = cloudinary_double.uploads
        assert cloudinary_double.uploads[key] == JPEG and key.startswith(f"courses/{course['_id']}/thumbnail-")
        location = admin.get(urlsplit(shown["thumbnailUrl"]).path, status=303).headers["Location"]
        assert location.startswith(cloudinary_double.base_url) and location.endswith(key)
        cloudinary_double.fail_next(1)
        failed = admin.put(url(course), upload_files=[("file", "new.png", PNG)], status=503).json["error"]
        assert failed["code"] == "storage_unavailable"
        assert runtime.db.courses.find_one({"_id": course["_id"]})["thumbnail"]["key"] == key
        assert list(cloudinary_double.uploads) == [key]
