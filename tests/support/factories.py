"""Test data, the one place that makes it: users and clients signed in through the real login
route, courses, enrollments, payments through Checkout, certificates, sample files, and plain
documents for direct inserts where no route can make what a test needs."""
import io
import itertools
import struct
import subprocess
import zipfile
import zlib
from datetime import datetime, time, timedelta, timezone

from lms import audit
from lms.accounts import users
from lms.certificates import records as certificates
from lms.db import new_id
from lms.learning import courses
from support.app import browser
from support.certificates import drain
from support.live import call
from support.payments import ENROLL, deliver

PASSWORD = "correct horse battery"


# --- users ------------------------------------------------------------------------------

_numbers = itertools.count(1)


def create_user(db, role="student", *, name=None, email=None, password=PASSWORD, rounds=4):
    n = next(_numbers)
    user = users.create(db, name=name or f"{role.title()} {n}", email=email or f"{role}{n}@example.com",
                        password=password, role=role, rounds=rounds)
    return {**user, "password": password}


def sign_in(app, user):
    """A browser-like client signed in as ``user`` that echoes the CSRF cookie, as a SPA does.
    (Over a real socket: ``Service.sign_in`` in support/live.py.)"""
    client = browser(app)
    client.post_json("/api/auth/login", {"email": user["email"], "password": user["password"]})
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = client.cookies["XSRF-TOKEN"]
    client.user = user
    return client


# --- courses and enrollments --------------------------------------------------------------

_courses = itertools.count(1)


def create_course(db, **overrides):
    """A valid published course (one module, a preview lesson and a locked one) through the
    real domain function; ``overrides`` replace any authored field."""
    n = next(_courses)
    fields = {"title": f"Course {n}", "description": f"What course {n} teaches", "price": 49900,
              "status": "published", "tags": ["python"],
              "modules": [{"id": "m1", "title": "Start", "lessons": [
                  {"id": "intro", "title": "Introduction", "preview": True, "durationMin": 5,
                   "content": "Welcome aboard", "videoUrl": "https://videos.example.com/intro.mp4"},
                  {"id": "setup", "title": "Set up", "durationMin": 12, "content": "Install things"}]}]}
    return courses.create(db, {**fields, **overrides}, audit.SYSTEM)


def enroll(client, course, mode="simulated", **expect):
    """``client`` enrolls in ``course`` through the real route (with a simulated payment unless
    ``mode`` says otherwise); the enrollment it answers."""
    return client.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": mode}, **expect).json["enrollment"]


def enrolled(signed_in, db, role="student", **course_fields):
    """A signed-in learner with an active enrollment (a simulated payment) in a new course."""
    course = create_course(db, **course_fields)
    student = signed_in(role)
    enroll(student, course, status=201)
    return student, course


def complete_course(client, course):
    """Every lesson of a ``create_course`` course completed through the real route, in order,
    which creates the certificate; the last answer."""
    for lesson in ("intro", "setup"):
        done = client.post_json("/api/progress/complete-lesson",
                                {"courseId": course["_id"], "moduleId": "m1", "lessonId": lesson}).json
    return done


# --- payments through Razorpay (tests/payments/conftest.py configures it) -------------------

def checkout(signed_in, db, **course_fields):
    """A student who enrolled in a paid course: (student client, course, order, enrollment)."""
    student = signed_in()
    course = create_course(db, **course_fields)
    body = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json
    return student, course, body["order"], body["enrollment"]


def paid_at_checkout(server, db, double):
    """A student who enrolled in a paid course on a live ``server`` and paid at Checkout, before
    any webhook or verification: (their session headers, the payment entity)."""
    auth = server.sign_in(create_user(db))
    _, body, _ = call("POST", server.url + ENROLL, {"courseId": create_course(db)["_id"]}, auth)
    return auth, double.pay(body["order"]["id"])


def paid_enrollment(signed_in, db, client, double):
    """A student whose enrollment was paid through the webhook: (student, course, payment entity)."""
    student, course, order, _ = checkout(signed_in, db)
    paid = double.pay(order["id"])
    assert deliver(client, double.webhook("payment.captured", paid)) == "captured"
    return student, course, paid


# --- certificates -------------------------------------------------------------------------

def pending_certificate(db, settings, user=None, course=None, **user_fields):
    """A certificate record as completing a course creates it (``pending``)."""
    user = user or create_user(db, **user_fields)
    course = course or create_course(db, price=0)
    cert, _ = certificates.create_once(db, user, course, prefix=settings.cert_prefix, actor=audit.SYSTEM)
    return cert


def issued_certificate(db, settings, user=None, course=None, **user_fields):
    """A certificate rendered by the worker's job (``active``), as stored."""
    cert = pending_certificate(db, settings, user=user, course=course, **user_fields)
    drain(db, settings)
    return db.certificates.find_one({"_id": cert["_id"]})


# --- files, by their bytes ------------------------------------------------------------------

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)
TEXT = "Notes — नमस्ते\n<script>alert(1)</script>\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56) + b"This program cannot be run in DOS mode."
REPO = "https://github.com/student/project"


def png_image(width=120, height=40, rgb=(200, 30, 30)):
    """A real PNG of one colour, ``width`` × ``height``."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg_image(width=160, height=50, text="J. Doe"):
    """A real JPEG of a handwritten-looking name (drawn by wkhtmltoimage), ``width`` × ``height``."""
    page = f"<html><body style='margin:0;background:#fff'><i style='font:34px serif'>{text}</i></body></html>"
    return subprocess.run(["wkhtmltoimage", "-q", "--width", str(width), "--height", str(height), "-f", "jpg",
                           "-", "-"], input=page.encode(), capture_output=True, check=True).stdout


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b'<script>alert(2)</script><rect width="10" height="10"/></svg>')


def zipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "print('hi')")
    return buffer.getvalue()


# --- documents for direct inserts ------------------------------------------------------------
#
# The staff reports read these in the shapes their owners write them. The tests create what
# they can through the real routes (sign-up, courses, enrolling with a simulated payment,
# completing lessons); these builders add what those routes cannot make on a chosen day (past
# refunds, certificates in every status, thousands of rows for the benchmark). Each returns a
# plain document for ``insert_one``/``insert_many``.

DUMMY_HASH = "$2b$04$" + "x" * 53  # matches no password: these users cannot sign in


def midnight(day_offset=0, now=None):
    """UTC midnight ``day_offset`` days from today."""
    today = (now or datetime.now(timezone.utc)).date()
    return datetime.combine(today, time(), tzinfo=timezone.utc) + timedelta(days=day_offset)


def student(n, *, name=None, email=None, at=None, role="student", disabled=False):
    at = at or datetime.now(timezone.utc)
    _id = new_id()
    return {"_id": _id, "name": name or f"Student {n}", "email": email or f"learner-{_id}@example.net",
            "passwordHash": DUMMY_HASH, "role": role, "disabled": disabled, "createdAt": at, "updatedAt": at}


def enrollment(user_id, course_id, *, at, status="active", completed=None, lessons=2, payment_id=None):
    done = lessons if completed else 0
    return {"_id": new_id(), "userId": user_id, "courseId": course_id, "status": status,
            "paymentId": payment_id, "progress": 100 * done // lessons, "completedLessons": done,
            "totalLessons": lessons, "enrolledAt": at,
            "activatedAt": at if status in ("active", "refunded") else None,
            "completedAt": completed, "updatedAt": completed or at}


def payment(user_id, course_id, enrollment_id, *, amount, currency="INR", status="captured", at,
            refunded=None, provider="razorpay"):
    history = [{"status": "created", "at": at}]
    doc = {"_id": new_id(), "provider": provider, "orderId": f"order_{new_id()}",
           "providerPaymentId": f"pay_{new_id()}", "userId": user_id, "courseId": course_id,
           "enrollmentId": enrollment_id, "amount": amount, "currency": currency, "status": status,
           "rawResponse": None, "createdAt": at, "updatedAt": refunded or at,
           "capturedAt": None, "refundedAt": None, "failedAt": None}
    if status in ("captured", "refunded"):
        doc["capturedAt"] = at
        history.append({"status": "captured", "at": at})
    if status == "refunded":
        doc["refundedAt"] = refunded
        history.append({"status": "refunded", "at": refunded})
    if status == "failed":
        doc["failedAt"] = at
        history.append({"status": "failed", "at": at})
    doc["history"] = history
    return doc


def certificate(user_id, course_id, *, status, at, student_name="A Student", course_title="A Course"):
    issued = at if status in ("active", "revoked") else None
    return {"_id": new_id(), "certId": certificates.new_cert_id("CERT"), "userId": user_id,
            "courseId": course_id, "studentName": student_name, "courseTitle": course_title, "status": status,
            "attempts": 1 if status != "pending" else 0, "nextAttemptAt": at, "createdAt": at,
            "issuedAt": issued, "pdfUrl": None, "hash": None, "emailStatus": None,
            "revokedAt": at if status == "revoked" else None}
