"""Project submissions: JSON or multipart uploads typed by their bytes, nothing half-stored,
the student's own history, and a mentor's one decision, which may earn the certificate."""
import email
import email.policy
import re
import threading
from urllib.parse import urlsplit

import pytest

from lms.adapters.mail.queue import deliver_due
from lms.learning.submissions import MAX_FILE_BYTES
from support.app import post_bytes
from support.factories import (EXE, JPEG, PDF, PNG, REPO, TEXT, complete_course, create_course, create_user, enrolled,
                               teaching, zipped)
from support.live import call
from support.submissions import nothing_stored, stored_files, upload

# --- submitting -------------------------------------------------------------------------


def test_a_json_submission_with_a_url_is_pending_and_audited(signed_in, db):
    student, course = enrolled(signed_in, db)
    response = student.post_json("/api/submissions", {"courseId": course["_id"], "submissionUrl": REPO},
                                 status=201)
    shown = response.json["submission"]
    assert set(shown) == {"id", "userId", "courseId", "submissionUrl", "files", "status", "grade",
                          "mentorComments", "verified", "reviewedBy", "reviewedAt", "createdAt"}
    assert (shown["userId"], shown["courseId"], shown["submissionUrl"]) == (
        student.user["_id"], course["_id"], REPO)
    assert (shown["status"], shown["verified"], shown["files"], shown["reviewedAt"]) == ("pending", False, [], None)
    assert shown["createdAt"].endswith("Z")
    entry = db.auditLogs.find_one({"action": "submission.create"})
    assert (entry["actorId"], entry["targetId"]) == (student.user["_id"], shown["id"])


def test_files_are_typed_by_their_bytes_and_stored_under_random_keys(signed_in, db, settings, client):
    student, course = enrolled(signed_in, db)
    sent = [("files", "notes.txt", PDF, "text/plain"), ("files", "shot.png", PNG), ("files", "me.JPG", JPEG),
            ("files", "code.zip", zipped()), ("files", "readme.md", TEXT, "text/html")]
    shown = upload(student, course, sent, submissionUrl=REPO).json["submission"]
    assert [(f["name"], f["contentType"], f["size"]) for f in shown["files"]] == [
        ("notes.txt", "application/pdf", len(PDF)), ("shot.png", "image/png", len(PNG)),
        ("me.JPG", "image/jpeg", len(JPEG)), ("code.zip", "application/zip", len(zipped())),
        ("readme.md", "text/plain", len(TEXT))]
    saved = db.submissions.find_one({"_id": shown["id"]})
    for entry, (_, _, data, *_) in zip(saved["files"], sent):
        assert re.fullmatch(rf"submissions/{shown['id']}/[0-9a-f]{{32}}\.(pdf|png|jpg|zip|txt)", entry["key"])
        assert entry["url"] == f"https://lms.test/files/{entry['key']}"
        assert client.get(urlsplit(entry["url"]).path).body == data
    assert len(stored_files(settings)) == 5
    assert "key" not in shown["files"][0]


@pytest.mark.parametrize("raw, shown", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\amit\\report final.pdf", "report final.pdf"),
    ("inv\u202egpj.exe.pdf", "invgpj.exe.pdf"), ("a\tb\x07c.pdf", "a bc.pdf"), ("..", "file"),
    ("x" * 300 + ".pdf", "x" * 115 + "….pdf")])
def test_client_file_names_are_only_sanitised_for_display(signed_in, db, raw, shown):
    student, course = enrolled(signed_in, db)
    files = upload(student, course, [("files", raw, PDF)]).json["submission"]["files"]
    assert files[0]["name"] == shown and files[0]["url"].endswith(".pdf")


@pytest.mark.parametrize("files, status, code", [
    ([("files", "report.pdf", EXE)], 415, "unsupported_file_type"),
    ([("files", "page.txt", b"text\x00with a NUL")], 415, "unsupported_file_type"),
    ([("files", "latin1.txt", "café".encode("latin-1"))], 415, "unsupported_file_type"),
    ([("files", "ok.pdf", PDF), ("files", "bad.png", EXE)], 415, "unsupported_file_type"),
    ([("files", "empty.pdf", b"")], 400, "empty_file"),
    ([("files", f"{n}.pdf", PDF) for n in range(6)], 400, "too_many_files"),
    ([("files", "ok.pdf", PDF), ("files", "big.pdf", PDF + b"0" * MAX_FILE_BYTES)], 413, "file_too_large"),
], ids=["exe-as-pdf", "nul-bytes", "not-utf8", "second-file-bad", "empty", "six-files", "over-10mb"])
def test_a_bad_file_refuses_the_whole_request_and_stores_nothing(signed_in, db, settings, files, status, code):
    student, course = enrolled(signed_in, db)
    error = upload(student, course, files, status=status, submissionUrl=REPO).json["error"]
    assert error["code"] == code and error["fields"]
    assert nothing_stored(db, settings)


def test_exactly_ten_megabytes_and_five_files_are_accepted(signed_in, db):
    student, course = enrolled(signed_in, db)
    files = [("files", "big.pdf", PDF + b"0" * (MAX_FILE_BYTES - len(PDF)))] + \
            [("files", f"{n}.txt", b"ok") for n in range(4)]
    assert len(upload(student, course, files).json["submission"]["files"]) == 5


@pytest.mark.parametrize("body, field", [
    ({}, "submissionUrl"), ({"courseId": None, "submissionUrl": REPO}, "courseId"),
    ({"courseId": "nope", "submissionUrl": REPO}, "courseId"),
    ({"courseId": {"$ne": None}, "submissionUrl": REPO}, "courseId"),
    ({"submissionUrl": "javascript:alert(1)"}, "submissionUrl"),
    ({"submissionUrl": "ftp://files.example.com/x.zip"}, "submissionUrl"),
    ({"submissionUrl": "https://e.com/" + "x" * 2000}, "submissionUrl"),
    ({"submissionUrl": ["https://e.com"]}, "submissionUrl"), ({"submissionUrl": ""}, "submissionUrl"),
    ({"submissionUrl": None}, "submissionUrl")])
def test_json_submissions_are_validated(signed_in, db, settings, body, field):
    student, course = enrolled(signed_in, db)
    response = student.post_json("/api/submissions", {"courseId": course["_id"], **body}, status=400)
    assert response.json["error"]["code"] == "validation_error" and field in response.json["error"]["fields"]
    assert nothing_stored(db, settings)


def test_multipart_fields_are_validated_like_json(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    fields = upload(student, course, [("files", "a.pdf", PDF)], status=400,
                    submissionUrl="javascript:alert(1)").json["error"]["fields"]
    assert "submissionUrl" in fields
    response = student.post("/api/submissions", {"submissionUrl": REPO}, upload_files=[("files", "a.pdf", PDF)],
                            status=400)  # no courseId
    assert "courseId" in response.json["error"]["fields"]
    assert upload(student, course, [], status=400, submissionUrl="").json["error"]["code"] == "validation_error"
    assert upload(student, course, [], status=400, submissionUrl="h" * 9000).json["error"]["fields"] == {
        "submissionUrl": "is too long"}
    assert nothing_stored(db, settings)


def test_an_empty_file_input_is_ignored_like_a_browser_sends_it(signed_in, db):
    student, course = enrolled(signed_in, db)
    shown = upload(student, course, [("files", "", b"")], submissionUrl=REPO).json["submission"]
    assert shown["files"] == [] and shown["submissionUrl"] == REPO


@pytest.mark.parametrize("content_type, body, status, code", [
    ("text/plain", b"courseId=x", 415, "unsupported_media_type"),
    ("application/x-www-form-urlencoded", b"courseId=x", 415, "unsupported_media_type"),
    ("multipart/form-data", b"--x\r\n", 400, "invalid_multipart"),
    ("multipart/form-data; boundary=x", b"no boundary here", 400, "invalid_multipart"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"courseId\"\r\n\r\nab", 400,
     "invalid_multipart"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"files\"; "
     b"filename=\"\xff\xfe.pdf\"\r\n\r\n%PDF-1\r\n--x--\r\n", 400, "invalid_multipart"),
    ("application/json", b"{not json", 400, "invalid_json")])
def test_bodies_that_are_neither_json_nor_multipart_or_are_malformed(signed_in, db, settings,
                                                                      content_type, body, status, code):
    student, _ = enrolled(signed_in, db)
    response = post_bytes(student, "/api/submissions", body, content_type, status)
    assert response.json["error"]["code"] == code
    assert nothing_stored(db, settings)


def test_unknown_courses_are_404_and_courses_without_an_active_enrollment_403(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    unknown = {"_id": "0123456789abcdef01234567"}
    assert upload(student, unknown, [("files", "a.pdf", PDF)], status=404).json["error"]["code"] == "not_found"
    stranger = signed_in()
    for files in ([], [("files", "a.pdf", PDF)]):
        error = upload(stranger, course, files, status=403, submissionUrl=REPO).json["error"]
        assert error["code"] == "not_enrolled"
    db.enrollments.update_one({"userId": student.user["_id"]}, {"$set": {"status": "refunded"}})
    assert upload(student, course, [], status=403, submissionUrl=REPO).json["error"]["code"] == "not_enrolled"
    assert nothing_stored(db, settings)


def test_submitting_needs_a_session_and_the_csrf_header(client, signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    client.post("/api/submissions", {"courseId": course["_id"]}, upload_files=[("files", "a.pdf", PDF)],
                status=401)
    del student.extra_environ["HTTP_X_XSRF_TOKEN"]
    assert upload(student, course, [("files", "a.pdf", PDF)], status=403).json["error"]["code"] == "csrf_failed"
    assert nothing_stored(db, settings)


def test_an_oversized_json_body_is_413(signed_in, db):
    student, course = enrolled(signed_in, db)
    response = student.post_json("/api/submissions", {"courseId": course["_id"], "pad": "x" * 1_100_000},
                                 status=413)
    assert response.json["error"]["code"] == "payload_too_large"


def test_resubmitting_keeps_the_history_and_lists_show_only_ones_own(signed_in, db):
    student, course = enrolled(signed_in, db)
    other_course = create_course(db)
    student.post_json("/api/enroll", {"courseId": other_course["_id"], "paymentMode": "simulated"})
    ids = [student.post_json("/api/submissions", {"courseId": c["_id"], "submissionUrl": f"{REPO}/{n}"}
                             ).json["submission"]["id"] for n, c in enumerate([course, course, other_course])]
    neighbour, _ = enrolled(signed_in, db)
    neighbour.post_json("/api/submissions", {"courseId": course["_id"], "submissionUrl": REPO}, status=403)
    body = student.get("/api/submissions").json
    assert [s["id"] for s in body["items"]] == ids[::-1] and body["total"] == 3
    assert [s["id"] for s in student.get(f"/api/submissions?courseId={course['_id']}").json["items"]] == ids[1::-1]
    page = student.get("/api/submissions?limit=2&page=2").json
    assert ([s["id"] for s in page["items"]], page["total"]) == ([ids[0]], 3)
    assert neighbour.get(f"/api/submissions?courseId={course['_id']}").json["items"] == []
    for query, field in (("courseId=nope", "courseId"), ("limit=101", "limit"), ("userId=" + ids[0], "userId")):
        assert field in student.get(f"/api/submissions?{query}", status=400).json["error"]["fields"]


# --- mentor review -----------------------------------------------------------------------

def verify(client, submission_id, decision="approve", status=200, status_field=None, **fields):
    """A review; ``status_field`` sends the decision under its current name instead of ``decision``."""
    named = {"status": status_field} if status_field else {"decision": decision}
    return client.post_json("/api/admin/verify-submission", {"submissionId": submission_id, **named, **fields},
                            status=status)


def mentor_of(signed_in, db, course):
    """A client signed in as an instructor who teaches ``course``."""
    mentor = signed_in("instructor")
    teaching(db, course, mentor)
    return mentor


def submitted(student, course):
    return student.post_json("/api/submissions", {"courseId": course["_id"], "submissionUrl": REPO}
                             ).json["submission"]["id"]


@pytest.mark.parametrize("decision, status", [("approve", "approved"), ("reject", "rejected")])
def test_a_mentor_decides_once_with_grade_and_comments_and_it_is_audited(signed_in, db, decision, status):
    student, course = enrolled(signed_in, db)
    submission_id = submitted(student, course)
    mentor = mentor_of(signed_in, db, course)
    reply = verify(mentor, submission_id, decision, grade="92/100", comments="Clean code.\nAdd tests.").json
    shown = reply["submission"]
    assert (shown["status"], shown["verified"], shown["grade"], shown["mentorComments"]) == (
        status, decision == "approve", "92/100", "Clean code.\nAdd tests.")
    assert shown["reviewedBy"] == mentor.user["_id"] and shown["reviewedAt"].endswith("Z")
    assert reply["certificateCreated"] is False and "certId" not in reply
    entry = db.auditLogs.find_one({"action": f"submission.{decision}"})
    assert (entry["actorId"], entry["targetId"], entry["details"]["grade"]) == (
        mentor.user["_id"], submission_id, "92/100")
    assert student.get("/api/submissions").json["items"][0]["status"] == status
    again = verify(signed_in("admin"), submission_id, "reject" if decision == "approve" else "approve", status=409)
    assert again.json["error"]["code"] == "already_reviewed" and again.json["submission"]["status"] == status
    assert db.submissions.find_one({"_id": submission_id})["reviewedBy"] == mentor.user["_id"]
    assert db.auditLogs.count_documents({"action": {"$in": ["submission.approve", "submission.reject"]}}) == 1


@pytest.mark.parametrize("body, field", [
    ({"decision": "maybe"}, "decision"), ({"decision": None}, "decision"), ({"grade": "g" * 21}, "grade"),
    ({"comments": "c" * 5001}, "comments"), ({"grade": 92}, "grade"), ({"submissionId": "nope"}, "submissionId"),
    ({"submissionId": {"$ne": None}}, "submissionId")])
def test_decisions_are_validated(signed_in, db, body, field):
    student, course = enrolled(signed_in, db)
    submission_id = submitted(student, course)
    response = signed_in("admin").post_json("/api/admin/verify-submission",
                                            {"submissionId": submission_id, "decision": "approve", **body}, status=400)
    assert field in response.json["error"]["fields"]
    assert db.submissions.find_one({"_id": submission_id})["status"] == "pending"


def test_unknown_submissions_are_404_and_students_cannot_decide(signed_in, db):
    student, course = enrolled(signed_in, db)
    submission_id = submitted(student, course)
    assert verify(signed_in("admin"), "0123456789abcdef01234567", status=404).json["error"]["code"] == "not_found"
    verify(student, submission_id, status=403)
    verify(signed_in(), submission_id, status=403)
    assert db.submissions.find_one({"_id": submission_id})["status"] == "pending"


def test_staff_cannot_decide_on_their_own_submission(signed_in, db):
    instructor, course = enrolled(signed_in, db, role="instructor")
    submission_id = submitted(instructor, course)
    assert verify(instructor, submission_id, status=403).json["error"]["code"] == "own_submission"
    assert db.submissions.find_one({"_id": submission_id})["status"] == "pending"


def test_racing_mentors_produce_one_decision(live_server, db):
    server = live_server()
    student = create_user(db)
    student_headers = server.sign_in(student)
    course = create_course(db, price=0)
    call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, student_headers)
    _, body, _ = call("POST", server.url + "/api/submissions", {"courseId": course["_id"], "submissionUrl": REPO},
                      student_headers)
    submission_id = body["submission"]["id"]
    instructors = [create_user(db, "instructor") for _ in range(4)]
    teaching(db, course, *instructors)
    mentors = [server.sign_in(instructor) for instructor in instructors]
    barrier, answers = threading.Barrier(4), []

    def decide(headers, decision):
        barrier.wait()
        answers.append(call("POST", server.url + "/api/admin/verify-submission",
                            {"submissionId": submission_id, "decision": decision}, headers)[0])
    threads = [threading.Thread(target=decide, args=(h, ("approve", "reject")[n % 2])) for n, h in enumerate(mentors)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(answers) == [200, 409, 409, 409]
    assert db.auditLogs.count_documents({"action": {"$in": ["submission.approve", "submission.reject"]}}) == 1


def test_the_review_queue_lists_every_students_submissions_for_staff(signed_in, db):
    first, course = enrolled(signed_in, db)
    second, _ = enrolled(signed_in, db)
    second.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"})
    ids = [submitted(first, course), submitted(second, course)]
    mentor = mentor_of(signed_in, db, course)
    verify(mentor, ids[0], "reject")
    queue = mentor.get("/api/admin/submissions?status=pending").json
    assert ([s["id"] for s in queue["items"]], queue["total"]) == ([ids[1]], 1)
    oldest = mentor.get(f"/api/admin/submissions?courseId={course['_id']}&sort=oldest").json["items"]
    assert [s["id"] for s in oldest] == ids
    assert [s["id"] for s in mentor.get(f"/api/admin/submissions?userId={first.user['_id']}").json["items"]] == ids[:1]
    assert "status" in mentor.get("/api/admin/submissions?status=done", status=400).json["error"]["fields"]
    first.get("/api/admin/submissions", status=403)


# --- approval and the certificate ---------------------------------------------------------

def test_a_project_course_is_certified_upon_approval_exactly_once(signed_in, db):
    student, course = enrolled(signed_in, db, price=0, requiresProject=True)
    assert complete_course(student, course)["certificateCreated"] is False
    rejected, approved, later = submitted(student, course), submitted(student, course), submitted(student, course)
    mentor = mentor_of(signed_in, db, course)
    assert verify(mentor, rejected, "reject").json["certificateCreated"] is False
    assert db.certificates.count_documents({}) == 0
    reply = verify(mentor, approved).json
    assert reply["certificateCreated"] is True
    cert = db.certificates.find_one()
    assert (reply["certId"], cert["userId"], cert["courseId"], cert["status"]) == (
        cert["certId"], student.user["_id"], course["_id"], "pending")
    again = verify(mentor, later).json
    assert again["certificateCreated"] is False and "certId" not in again
    assert db.certificates.count_documents({}) == 1
    assert db.auditLogs.count_documents({"action": "certificate.create", "actorId": mentor.user["_id"]}) == 1


def test_an_approval_before_the_last_lesson_lets_that_lesson_earn_the_certificate(signed_in, db):
    student, course = enrolled(signed_in, db, price=0, requiresProject=True)
    assert verify(signed_in("admin"), submitted(student, course)).json["certificateCreated"] is False
    assert db.certificates.count_documents({}) == 0
    assert complete_course(student, course)["certificateCreated"] is True
    assert db.certificates.count_documents({}) == 1


def test_an_approval_after_a_refund_issues_no_certificate(signed_in, db):
    student, course = enrolled(signed_in, db, price=0, requiresProject=True)
    complete_course(student, course)
    submission_id = submitted(student, course)
    db.enrollments.update_one({"userId": student.user["_id"]}, {"$set": {"status": "refunded"}})
    reply = verify(signed_in("admin"), submission_id).json
    assert reply["submission"]["status"] == "approved" and reply["certificateCreated"] is False
    assert db.certificates.count_documents({}) == 0


# --- one name per concept, and the student is told -------------------------------------------

def test_a_review_names_its_decision_status_and_the_comments_mentor_comments(signed_in, db, runtime):
    student, course = enrolled(signed_in, db)
    mentor = mentor_of(signed_in, db, course)
    reply = verify(mentor, submitted(student, course), status_field="rejected", grade="C",
                   mentorComments="Add tests.\nThen resubmit.").json["submission"]
    assert (reply["status"], reply["mentorComments"], reply["grade"]) == ("rejected", "Add tests.\nThen resubmit.", "C")
    [note] = student.get("/api/user/notifications").json["items"]
    assert (note["kind"], note["title"]) == ("submission.reviewed", "Your project needs more work")
    assert course["title"] in note["body"] and "Grade: C" in note["body"] and "Add tests." in note["body"]
    assert deliver_due(db, runtime.mailer, "test-worker") == 1
    [path] = runtime.mailer.messages()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == student.user["email"]
    assert message["Subject"] == f"Your project for {course['title']} needs more work"
    text = message.get_body(("plain",)).get_content()
    assert "Grade: C" in text and "Add tests.\nThen resubmit." in text


@pytest.mark.parametrize("fields, status, error", [
    ({"decision": "approve", "comments": "Old names"}, 200, None),
    ({"status_field": "approved", "decision": "approve"}, 200, None),
    ({"status_field": "approved", "decision": "reject"}, 400, {"decision": "disagrees with status; send status only"}),
    ({"mentorComments": "a", "comments": "b", "status_field": "approved"}, 400,
     {"comments": "disagrees with mentorComments; send mentorComments only"}),
    ({}, 400, {"status": "is required"}), ({"status_field": "pending"}, 400, None)])
def test_the_earlier_names_still_work_for_one_release_and_must_agree(signed_in, db, fields, status, error):
    student, course = enrolled(signed_in, db)
    submission_id = submitted(student, course)
    body = {"submissionId": submission_id, **({"status": fields.pop("status_field")} if "status_field" in fields
                                              else {}), **fields}
    response = mentor_of(signed_in, db, course).post_json("/api/admin/verify-submission", body, status=status)
    if status == 200:
        assert response.json["submission"]["status"] == "approved"
        assert response.json["submission"]["mentorComments"] == fields.get("comments")
    else:
        assert error is None or response.json["error"]["fields"] == error
        assert db.submissions.find_one({"_id": submission_id})["status"] == "pending"


def test_instructors_review_only_the_courses_they_teach(signed_in, db):
    student, course = enrolled(signed_in, db)
    submission_id = submitted(student, course)
    outsider = signed_in("instructor")
    assert verify(outsider, submission_id, status=403).json["error"]["code"] == "not_course_instructor"
    assert outsider.get("/api/admin/submissions").json["total"] == 0
    assert db.submissions.find_one({"_id": submission_id})["status"] == "pending"
    assert student.get("/api/user/notifications").json["items"] == []
    queue = signed_in("admin").get("/api/admin/submissions").json["items"]
    assert queue[0]["user"] == {"id": student.user["_id"], "name": student.user["name"], "email": student.user["email"]}
    assert (queue[0]["course"]["title"], queue[0]["reviewer"]) == (course["title"], None)
    verify(signed_in("admin"), submission_id)
    reviewed = signed_in("admin").get("/api/admin/submissions").json["items"][0]
    assert reviewed["reviewer"]["id"] != student.user["_id"] and reviewed["reviewer"]["name"].startswith("Admin")
