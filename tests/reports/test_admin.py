"""Staff reports: students, enrollments, CSV exports, the audit trail and its completeness."""
import codecs
import csv
import http.client
import io
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from lms.db import new_id
from lms.routes import ROUTES
from lms.web.guard import UNSAFE_METHODS
from support import factories
from support.factories import complete_course, create_course, create_user, enroll

STUDENTS, ENROLLMENTS, LOGS = "/api/admin/students", "/api/admin/enrollments", "/api/admin/logs"


def rows(response):
    assert response.body.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))


def field_error(response):
    assert response.status_int == 400 and response.json["error"]["code"] == "validation_error"
    return set(response.json["error"]["fields"])


# --- students ---------------------------------------------------------------------------

def test_students_come_with_their_enrollment_completion_and_certificate_counts(signed_in, db):
    paid, free = create_course(db), create_course(db, price=0)
    asha, ravi = signed_in("student", name="Asha Rao"), signed_in("student", name="Ravi Iyer")
    enroll(asha, paid), enroll(asha, free), enroll(ravi, paid)
    complete_course(asha, free)  # completes the course and creates a (pending) certificate
    other = create_course(db)
    db.enrollments.insert_one(factories.enrollment(ravi.user["_id"], other["_id"], status="cancelled",
                                              at=datetime.now(timezone.utc)))
    db.certificates.insert_one(factories.certificate(ravi.user["_id"], other["_id"], status="active",
                                                at=datetime.now(timezone.utc)))
    db.certificates.insert_one(factories.certificate(ravi.user["_id"], paid["_id"], status="revoked",
                                                at=datetime.now(timezone.utc)))
    idle = create_user(db, "student", name="Idle Student")
    create_user(db, "instructor")

    body = signed_in("instructor").get(STUDENTS).json
    assert body["total"] == 3 and (body["page"], body["limit"]) == (1, 20)
    by_name = {item["name"]: item for item in body["items"]}
    counts = lambda name: tuple(by_name[name][k] for k in
                                ("enrollments", "activeEnrollments", "completions", "certificates"))
    assert counts("Asha Rao") == (2, 2, 1, 0)  # the certificate is still pending
    assert counts("Ravi Iyer") == (2, 1, 0, 1)  # only the active certificate counts
    assert counts("Idle Student") == (0, 0, 0, 0)
    item = by_name["Idle Student"]
    assert item["id"] == idle["_id"] and item["email"] == idle["email"] and item["role"] == "student"
    assert "passwordHash" not in item and "_id" not in item and item["createdAt"].endswith("Z")


@pytest.mark.parametrize("q, expected", [
    ("kumar", ["Amit Kumar", "Kumar (Admin)"]), ("(", ["Kumar (Admin)"]), ("A+B", ["Plus Sign"]),
    (".*", []), ("[", []), ("\\", []), ("^Amit", []), ("AMIT@", ["Amit Kumar"]), ("$where", []),
])
def test_student_search_matches_name_or_email_as_plain_text(signed_in, db, q, expected):
    create_user(db, "student", name="Amit Kumar", email="amit@example.com")
    create_user(db, "student", name="Kumar (Admin)", email="k@example.com")
    create_user(db, "student", name="Plus Sign", email="a+b@example.com")
    found = signed_in("admin").get(STUDENTS, {"q": q}).json["items"]
    assert sorted(item["name"] for item in found) == expected


def test_student_pages_of_tied_students_never_repeat_or_skip_one(signed_in, db):
    tied = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made = [factories.student(n, at=tied) for n in range(7)]
    db.users.insert_many(made)
    admin = signed_in("admin")
    seen = []
    for page in (1, 2, 3, 4):
        body = admin.get(STUDENTS, {"sort": "oldest", "limit": 2, "page": page}).json
        assert body["total"] == 7
        seen += [item["id"] for item in body["items"]]
    assert seen == sorted(u["_id"] for u in made)
    newest = [i["id"] for i in admin.get(STUDENTS, {"limit": 100}).json["items"]]
    assert newest == sorted(newest, reverse=True)


@pytest.mark.parametrize("query, field", [
    ("limit=101", "limit"), ("limit=0", "limit"), ("page=0", "page"), ("sort=name", "sort"),
    ("format=xlsx", "format"), ("role=admin", "role"), ("q=" + "x" * 101, "q"), ("q[$ne]=x", "q[$ne]"),
])
def test_student_list_rejects_bad_parameters_naming_them(signed_in, query, field):
    response = signed_in("admin").get(f"{STUDENTS}?{query}", expect_errors=True)
    assert field_error(response) == {field}


# --- CSV --------------------------------------------------------------------------------

def test_students_as_csv_every_row_with_formulas_neutralised_and_the_export_audited(signed_in, db):
    hostile = ["=HYPERLINK(\"http://evil\",\"x\")", "+911234", "-2+3", "@SUM(A1)", "\tTabbed", "\rReturn",
               "Plain, with comma", "देवनागरी नाम"]
    at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    people = [factories.student(n, name=name, at=at + timedelta(minutes=n)) for n, name in enumerate(hostile)]
    people += [factories.student(100 + n, at=at - timedelta(days=1, minutes=n)) for n in range(1100)]
    db.users.insert_many(people)
    course = create_course(db)
    db.enrollments.insert_many([factories.enrollment(p["_id"], course["_id"], at=at, completed=at)
                                for p in people[::3]])
    admin = signed_in("admin")

    response = admin.get(STUDENTS, {"format": "csv"}, headers={"X-Request-Id": "export-students-1"})
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="students.csv"'
    table = rows(response)
    assert len(table) == len(people)  # not one page: every student, across export batches
    assert list(table[0]) == ["id", "name", "email", "disabled", "createdAt", "enrollments",
                              "activeEnrollments", "completions", "certificates"]
    names = [row["name"] for row in table[:len(hostile)]]
    assert names == ["'" + n if n[0] in "=+-@\t\r" else n for n in reversed(hostile)]
    assert {row["id"]: row["completions"] for row in table} == {
        p["_id"]: "1" if i % 3 == 0 else "0" for i, p in enumerate(people)}

    entry = db.auditLogs.find_one({"action": "report.export", "requestId": "export-students-1"})
    assert (entry["actorId"], entry["targetId"]) == (admin.user["_id"], "students")

    by_header = admin.get(STUDENTS, {"q": "देवनागरी"}, headers={"Accept": "text/csv"})
    assert [row["name"] for row in rows(by_header)] == ["देवनागरी नाम"]


def test_a_csv_export_is_streamed_over_the_wire(live_server, db):
    admin = create_user(db, "admin")
    db.users.insert_many([factories.student(n) for n in range(3000)])
    service = live_server()
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    connection.request("GET", STUDENTS + "?format=csv", headers=service.sign_in(admin))
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked" and response.getheader("Content-Length") is None
    assert body.decode("utf-8-sig").count("\r\n") == 3001


# --- enrollments ------------------------------------------------------------------------

@pytest.fixture
def enrolled(signed_in, db):
    """Two courses and enrollments in every status over five days, newest last."""
    go, rust = create_course(db, title="Go"), create_course(db, title="Rust")
    asha, ravi = factories.student(1, name="Asha"), factories.student(2, name="Ravi")
    db.users.insert_many([asha, ravi])
    day = lambda n: datetime(2025, 3, 1 + n, 12, tzinfo=timezone.utc)
    made = [factories.enrollment(asha["_id"], go["_id"], status="active", at=day(0), completed=day(2)),
            factories.enrollment(asha["_id"], rust["_id"], status="pending", at=day(1)),
            factories.enrollment(ravi["_id"], go["_id"], status="refunded", at=day(2)),
            factories.enrollment(ravi["_id"], rust["_id"], status="cancelled", at=day(3))]
    db.enrollments.insert_many(made)
    live = enroll(signed_in("student", name="Live"), go)  # today, through the real route
    return {"go": go, "rust": rust, "asha": asha, "ravi": ravi, "made": made, "live": live}


@pytest.mark.parametrize("query, expected", [
    ({}, ["live", 3, 2, 1, 0]),
    ({"status": "active"}, ["live", 0]),
    ({"courseId": "go"}, ["live", 2, 0]),
    ({"userId": "asha"}, [1, 0]),
    ({"courseId": "rust", "userId": "ravi"}, [3]),
    ({"from": "2025-03-02", "to": "2025-03-03"}, [2, 1]),  # a bare "to" date includes its day
    ({"from": "2025-03-02T12:00:00Z", "to": "2025-03-03T12:00:00Z"}, [1]),  # [from, to)
    ({"from": "2025-03-02T17:30:00+05:30"}, ["live", 3, 2, 1]),  # 12:00 UTC
    ({"sort": "oldest"}, [0, 1, 2, 3, "live"]),
])
def test_enrollments_filter_by_course_student_status_and_time(signed_in, enrolled, query, expected):
    names = {k: enrolled[k]["_id"] for k in ("go", "rust", "asha", "ravi")}
    query = {k: names.get(v, v) for k, v in query.items()}
    body = signed_in("admin").get(ENROLLMENTS, query).json
    ids = [enrolled["live"]["id"] if e == "live" else enrolled["made"][e]["_id"] for e in expected]
    assert [item["id"] for item in body["items"]] == ids and body["total"] == len(ids)


def test_an_enrollment_row_names_its_student_and_course(signed_in, enrolled):
    item = signed_in("admin").get(ENROLLMENTS, {"userId": enrolled["asha"]["_id"], "sort": "oldest"}).json["items"][0]
    assert item["user"] == {"id": enrolled["asha"]["_id"], "name": "Asha", "email": enrolled["asha"]["email"]}
    assert item["course"] == {"id": enrolled["go"]["_id"], "title": "Go", "slug": enrolled["go"]["slug"]}
    assert (item["status"], item["progress"], item["completedAt"]) == ("active", 100, "2025-03-03T12:00:00.000Z")


def test_enrollments_by_progress_keep_a_stable_order_across_pages(signed_in, db):
    course = create_course(db)
    at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made = [factories.enrollment(new_id(), course["_id"], at=at) for _ in range(9)]
    db.enrollments.insert_many(made)
    admin = signed_in("admin")
    seen = [item["id"] for page in (1, 2, 3)
            for item in admin.get(ENROLLMENTS, {"sort": "progress", "limit": 4, "page": page}).json["items"]]
    assert seen == sorted((e["_id"] for e in made), reverse=True)


def test_enrollments_as_csv_follow_the_filters(signed_in, enrolled):
    response = signed_in("admin").get(ENROLLMENTS, {"courseId": enrolled["go"]["_id"], "format": "csv",
                                                    "sort": "oldest", "limit": 1})
    assert response.headers["Content-Disposition"] == 'attachment; filename="enrollments.csv"'
    table = rows(response)
    assert [(r["userName"], r["courseTitle"], r["status"]) for r in table] == [
        ("Asha", "Go", "active"), ("Ravi", "Go", "refunded"), ("Live", "Go", "active")]
    assert table[0]["completedAt"] == "2025-03-03T12:00:00.000Z" and table[1]["completedAt"] == ""


@pytest.mark.parametrize("query, field", [
    ("status=paid", "status"), ("courseId=not-an-id", "courseId"), ("userId=" + "g" * 24, "userId"),
    ("from=2025-02-30", "from"), ("from=yesterday", "from"), ("to=2025-03-01T10:00:00", "to"),
    ("from=2025-03-02&to=2025-03-01", "to"), ("from=2025-03-01T10:00Z&to=2025-03-01T10:00Z", "to"),
    ("sort=price", "sort"), ("course=x", "course"), ("limit=1000", "limit"), ("from=99999-01-01", "from"),
    ("to=9999-12-31", "to"),
])
def test_enrollment_list_rejects_bad_parameters_naming_them(signed_in, query, field):
    assert field_error(signed_in("admin").get(f"{ENROLLMENTS}?{query}", expect_errors=True)) == {field}


# --- the audit trail --------------------------------------------------------------------

def test_the_audit_trail_newest_first_with_its_filters(signed_in, db):
    admin = signed_in("admin")
    course = admin.post_json("/api/admin/courses", {"title": "Audited", "price": 0},
                             headers={"X-Request-Id": "create-course-1"}).json["course"]
    admin.put_json(f"/api/admin/courses/{course['id']}", {"title": "Audited again"})
    at = lambda day: datetime(2025, 5, day, tzinfo=timezone.utc)
    old = [{"_id": new_id(), "action": "payment.captured", "actorId": "razorpay", "actorRole": "system",
            "targetType": "payment", "targetId": f"pay{day}", "timestamp": at(day), "details": {},
            "ip": None, "requestId": None} for day in (1, 2, 3)]
    db.auditLogs.insert_many(old)

    everything = admin.get(LOGS, {"limit": 100}).json
    stamps = [item["timestamp"] for item in everything["items"]]
    assert stamps == sorted(stamps, reverse=True) and everything["total"] == db.auditLogs.count_documents({})
    created = admin.get(LOGS, {"action": "course.create"}).json["items"]
    assert [(e["targetId"], e["actorId"], e["requestId"], e["ip"]) for e in created] == [
        (course["id"], admin.user["_id"], "create-course-1", "203.0.113.7")]
    assert admin.get(LOGS, {"requestId": "create-course-1"}).json["total"] == 1
    on_course = admin.get(LOGS, {"targetType": "course", "targetId": course["id"]}).json["items"]
    assert [e["action"] for e in on_course] == ["course.update", "course.create"]
    assert [e["targetId"] for e in admin.get(LOGS, {"actorId": "razorpay"}).json["items"]] == ["pay3", "pay2", "pay1"]
    window = admin.get(LOGS, {"from": "2025-05-02", "to": "2025-05-02"}).json["items"]
    assert [e["targetId"] for e in window] == ["pay2"]
    second = admin.get(LOGS, {"actorId": "razorpay", "limit": 2, "page": 2}).json
    assert [e["targetId"] for e in second["items"]] == ["pay1"] and second["total"] == 3


@pytest.mark.parametrize("query, field", [("actor=x", "actor"), ("from=2025-13-01", "from"),
                                          ("action[$regex]=.", "action[$regex]"), ("limit=500", "limit")])
def test_the_audit_trail_rejects_bad_parameters_naming_them(signed_in, query, field):
    assert field_error(signed_in("admin").get(f"{LOGS}?{query}", expect_errors=True)) == {field}


# --- every staff change leaves an audit entry ---------------------------------------------

def _student_with_submission(signed_in, db):
    course = create_course(db, price=0)
    student = signed_in("student")
    enroll(student, course)
    return student.post_json("/api/submissions", {"courseId": course["_id"],
                                                  "submissionUrl": "https://github.com/me/project"}).json


def _certificate(db, status):
    user, course = create_user(db, "student"), create_course(db)
    cert = factories.certificate(user["_id"], course["_id"], status=status, at=datetime.now(timezone.utc))
    db.certificates.insert_one(cert)
    return cert["certId"]


def _with_thumbnail(db, signed_in):
    course = create_course(db)
    signed_in("admin").put(f"/api/admin/courses/{course['_id']}/thumbnail", upload_files=[IMAGE])
    return {"id": course["_id"]}


IMAGE = ("file", "cover.png", factories.PNG)


# (method, path) -> (db, signed_in) -> (path parameters, body: JSON, a list of files to upload, or
# None). A staff route that changes data and is missing here fails the test below: add a working
# example request for it.
EXAMPLES = {
    ("POST", "/api/admin/courses"): lambda db, si: ({}, {"title": "New course", "price": 0}),
    ("PUT", "/api/admin/courses/<id>"): lambda db, si: ({"id": create_course(db)["_id"]}, {"title": "Renamed"}),
    ("PATCH", "/api/admin/courses/<id>"): lambda db, si: ({"id": create_course(db)["_id"]}, {"price": 100}),
    ("DELETE", "/api/admin/courses/<id>"): lambda db, si: ({"id": create_course(db)["_id"]}, None),
    ("PUT", "/api/admin/courses/<id>/thumbnail"): lambda db, si: ({"id": create_course(db)["_id"]}, [IMAGE]),
    ("DELETE", "/api/admin/courses/<id>/thumbnail"): lambda db, si: (_with_thumbnail(db, si), None),
    ("PATCH", "/api/admin/users/<id>"): lambda db, si: ({"id": create_user(db)["_id"]}, {"role": "instructor"}),
    ("POST", "/api/admin/users/<id>/sessions/revoke"): lambda db, si: ({"id": create_user(db)["_id"]}, {}),
    ("POST", "/api/admin/verify-submission"): lambda db, si: (
        {}, {"submissionId": _student_with_submission(si, db)["submission"]["id"], "decision": "approve",
             "grade": "A", "comments": "Well done"}),
    ("POST", "/api/admin/certificates/<certId>/revoke"): lambda db, si: (
        {"certId": _certificate(db, "active")}, {"reason": "Issued by mistake"}),
    ("POST", "/api/admin/certificates/<certId>/issue"): lambda db, si: ({"certId": _certificate(db, "failed")}, {}),
    ("PUT", "/api/admin/certificate-design"): lambda db, si: ({}, {"layout": "modern"}),
    ("PUT", "/api/admin/courses/<id>/certificate-design"): lambda db, si: (
        {"id": create_course(db)["_id"]}, {"layout": "compact"}),
    ("POST", "/api/admin/certificate-images"): lambda db, si: ({}, [("file", "logo.png", factories.png_image(120, 40))]),
    ("POST", "/api/admin/courses/<id>/certificates/reissue"): lambda db, si: ({"id": create_course(db)["_id"]}, {}),
    ("POST", "/api/admin/payments/<id>/refund"): lambda db, si: (
        {"id": factories.enrolled(si, db)[0].get("/api/enrollments").json["items"][0]["paymentId"]},
        {"reason": "Asked for it back"}),
}


# Staff routes with an unsafe method that change nothing (their own tests show it).
CHANGE_NOTHING = {("POST", "/api/admin/courses/<id>/certificate-preview")}


def test_every_staff_route_that_changes_data_writes_an_audit_entry_with_its_request_id(signed_in, db):
    changing = [r for r in ROUTES if r.who in ("staff", "admin") and r.method in UNSAFE_METHODS
                and (r.method, r.path) not in CHANGE_NOTHING]
    missing = [f"{r.method} {r.path}" for r in changing if (r.method, r.path) not in EXAMPLES]
    assert not missing, f"add an example request to EXAMPLES for: {missing}"
    admin = signed_in("admin")
    for route in changing:
        params, body = EXAMPLES[route.method, route.path](db, signed_in)
        path = re.sub(r"<(\w+)[^>]*>", lambda m: params[m.group(1)], route.path)
        request_id = f"audit-walk-{uuid.uuid4().hex[:12]}"
        send = getattr(admin, route.method.lower() + ("_json" if isinstance(body, dict) else ""))
        sent = {"params": body} if isinstance(body, dict) else {"upload_files": body} if body else {}
        response = send(path, **sent, headers={"X-Request-Id": request_id}, expect_errors=True)
        assert 200 <= response.status_int < 300, (route.method, route.path, response.text)
        entry = db.auditLogs.find_one({"requestId": request_id, "actorId": admin.user["_id"]})
        assert entry, f"{route.method} {route.path} changed data without an audit entry"
        assert entry["ip"] == "203.0.113.7" and entry["timestamp"]

