"""The route table: every URL of the service in one list, grouped by area.

Each area module (``catalog``, ``learning``, ...) holds its thin handlers and the schemas of their
input; this list says which URL reaches which handler, who may call it, and how (body and query
schemas, CSRF, caching, media types).

``who``: anyone · user (signed in) · staff (instructor or admin) · admin. ``reply``: what a
success answers (``Reply``/``Page`` of the output shapes, which serialize it too); ``errors``:
the errors the handler may answer besides those its other columns imply (a body may be invalid,
a private route may be unauthenticated...), each ``"<status> <code>"``. ``limit``: the rate
limits (``lms.web.ratelimit.RULES``) each request is counted under. ``name``: the route's
OpenAPI ``operationId``, which ``lms.web.urls`` builds links from. The app registers its
routes from this list, the guard reads ``who`` from it, the plugin counts ``limit``,
``/api/openapi.json`` is built from it and the tests walk it, so none of them can drift from the
others.
"""
from dataclasses import dataclass, field

from ..accounts.notifications import NOTIFICATION
from ..accounts.privacy import EXPORT as ACCOUNT_EXPORT
from ..accounts.sessions import SESSION
from ..accounts.users import USER
from ..certificates.bulk import BATCH
from ..certificates.designs import DESIGN, DESIGN_OUT, IMAGE, LAYOUT
from ..certificates.shapes import CERTIFICATE, CERTIFICATE_STATUS, PUBLIC_CERTIFICATE, SHARED_CERTIFICATE
from ..learning.courses import COURSE_CARD, COURSE_DETAIL, COURSE_FACETS, COURSE_FOR_EDITING, LESSON
from ..learning.enrollments import ENROLLMENT
from ..learning.progress import PROGRESS, PROGRESS_DETAIL
from ..learning.submissions import SUBMISSION
from ..payments import CHECKOUT_ORDER, PAYMENT, PAYMENT_DETAIL
from ..reports.analytics import ANALYTICS
from ..reports.courses import COURSE_ANALYTICS, ROSTER_ROW
from ..reports.lists import AUDIT_ROW, ENROLLMENT_ROW, STUDENT_ROW, SUBMISSION_ROW
from ..reports.payments import ORDER, PAYMENT_ROW, REJECTED
from ..schema import Anything, Boolean, Integer, OneOf, Page, Query, Replies, Reply, Text
from . import (accounts, admin, catalog, certificates, designs, events, files, learning, payments, profile,
               submissions, system)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Bottle syntax: /api/courses/<slug>
    handler: object
    who: str
    summary: str
    body: object = None  # lms.schema.Obj for JSON bodies
    reply: object = None  # lms.schema.Reply / Page: the success answer's shape
    errors: tuple = ()  # "404 not_found", ...: what the handler may answer besides the usual
    upload: object = None  # lms.schema.Form for multipart bodies
    redirects: bool = False  # may answer 303 See Other
    query: object = None  # lms.schema.Query: the parameters (none declared: none allowed)
    csrf: bool = True  # cookie-authenticated unsafe requests must carry X-XSRF-TOKEN
    cache: str = None  # public GET: answers cached for a few seconds under this namespace (lms.cache)
    invalidates: tuple = ()  # a successful call drops these cache namespaces
    media: tuple = ("application/json",)  # what a success may be answered in
    schema: dict = None  # the success body's JSON schema when it is not the {"ok": true, ...} envelope
    tags: tuple = field(default=())
    limit: tuple = ()  # rate-limit rules, counted before the handler runs (not for cached answers)
    name: str = None  # default: <area>_<handler>
    html_errors: object = None  # (error, settings) -> page: how an HTML route answers an LMSError

    def __post_init__(self):
        if self.body is not None and self.method in ("PUT", "PATCH"):  # POST bodies ignore unknown fields
            object.__setattr__(self, "body", self.body.edit())
        query = self.query if self.query is not None else Query()
        if "text/html" in self.media:
            # Pages are opened from shared links, to which sites append their own parameters
            # (fbclid, utm_*, trk): a page ignores what it does not know, an API route refuses it.
            query = query.lenient()
        object.__setattr__(self, "query", query)
        if self.name is None:
            area = self.handler.__module__.rsplit(".", 1)[-1]
            object.__setattr__(self, "name", f"{area}_{self.handler.__name__}")


R = Route
OK = Reply()
MESSAGE = Reply(message=Text())
NOT_FOUND = ("404 not_found",)
RAZORPAY_DOWN = ("502 razorpay_unavailable", "502 razorpay_rejected", "503 razorpay_not_configured")


def signed_in(status=200):
    return Reply(status, user=USER, csrfToken=Text(
        description="The CSRF token (also the XSRF-TOKEN cookie and the X-XSRF-TOKEN header) to send back"))


VERIFICATION = Reply(200, SHARED_CERTIFICATE.description_text, **SHARED_CERTIFICATE.fields,
                     certificate=SHARED_CERTIFICATE(description="The same certificate as one object: the preferred "
                                                                "way to read it (the top-level fields are the original "
                                                                "contract and stay)"))
DESIGNED = Reply(design=DESIGN_OUT)
IMAGES = ("400 validation_error",)
REVIEWED = Reply(submission=SUBMISSION, certificateCreated=Boolean(), certId=Text(optional=True))
EDITING = Reply(course=COURSE_FOR_EDITING)
EDITOR = (*NOT_FOUND, "403 not_course_instructor")
EDITS = (*EDITOR, "409 slug_taken", "409 edit_conflict", "409 course_has_enrollments", "412 precondition_failed")
IF_MATCH = " Send If-Match with the course's ETag to be refused (412) if it changed since you read it."
ROUTES = [
    R("GET", "/api/health", system.health, "anyone",
      "Service and dependency status; staff also see the queues, host, process and versions",
      reply=Reply(db=Anything(), worker=Anything(), queues=Anything(optional=True), host=Text(optional=True),
                  pid=Integer(optional=True), versions=Anything(optional=True))),
    R("GET", "/api/openapi.json", system.openapi, "anyone", "This API description (OpenAPI 3.1)",
      schema={"type": "object", "required": ["openapi", "info", "paths"]}),

    # accounts
    R("POST", "/api/auth/signup", accounts.signup, "anyone",
      "Create an account: signed in at once (201), or with LMS_EMAIL_VERIFICATION=required the same 202 for "
      "every address, the link to confirm it mailed", body=accounts.SIGNUP, csrf=False, limit=("signup-ip",),
      reply=Replies(signed_in(201), Reply(202, message=Text())), errors=("409 email_taken",)),
    R("POST", "/api/auth/login", accounts.login, "anyone", "Sign in", body=accounts.LOGIN, csrf=False,
      limit=("login-ip", "login-device", "login-email"), reply=signed_in(),
      errors=("401 invalid_credentials", "403 account_disabled", "403 email_unverified")),
    R("POST", "/api/auth/refresh", accounts.refresh, "anyone", "Rotate the session cookies", reply=signed_in(),
      errors=("401 session_expired", "401 session_revoked", "403 account_disabled")),
    R("GET", "/api/auth/session", accounts.session, "anyone",
      "Who is signed in (null when nobody is) and the CSRF token, set as a cookie when missing: a page's "
      "start after a reload", reply=Reply(user=USER(nullable=True), csrfToken=Text())),
    R("POST", "/api/auth/logout", accounts.logout, "anyone", "End the session, clear the cookies", reply=OK),
    R("POST", "/api/auth/forgot-password", accounts.forgot_password, "anyone",
      "E-mail a password reset link", body=accounts.FORGOT, csrf=False, limit=("forgot-ip", "forgot-email"),
      reply=MESSAGE),
    R("POST", "/api/auth/reset-password", accounts.reset_password, "anyone",
      "Set a new password with a reset link's token", body=accounts.RESET, csrf=False, limit=("reset-ip",),
      reply=MESSAGE, errors=("400 invalid_token",)),
    R("POST", "/api/auth/verify-email", accounts.verify_email, "anyone",
      "Confirm an address with the token of a mailed link (after sign-up, or a change of address)",
      body=accounts.TOKEN, csrf=False, limit=("verify-ip",), reply=MESSAGE,
      errors=("400 invalid_token", "409 email_taken")),
    R("POST", "/api/auth/resend-verification", accounts.resend_verification, "anyone",
      "Mail a new confirmation link to an address whose account is not confirmed yet (the same answer "
      "for every address)", body=accounts.FORGOT, csrf=False, limit=("resend-ip", "resend-email"), reply=MESSAGE),
    R("GET", "/api/user/me", accounts.me, "user", "The signed-in user", reply=Reply(user=USER)),
    R("PATCH", "/api/user/me", profile.rename, "user", "Change one's name (certificates keep theirs)",
      body=profile.RENAME, reply=Reply(user=USER)),
    R("DELETE", "/api/user/me", profile.delete_account, "user",
      "Delete one's account: personal data erased or anonymised everywhere, files removed, sessions ended; "
      "certificates stay verifiable under the name they were issued with unless revokeCertificates",
      body=profile.DELETION, limit=("password-user",),
      reply=Reply(message=Text(), certificatesRevoked=Integer(), certificatesKept=Integer()),
      errors=("400 wrong_password", "409 last_admin", "503 storage_unavailable")),
    R("POST", "/api/user/email", profile.change_email, "user",
      "Ask to change one's e-mail address: a link to the new address makes it the account's",
      body=profile.EMAIL_CHANGE, limit=("password-user", "email-change-user"), reply=Reply(202, message=Text()),
      errors=("400 wrong_password",)),
    R("POST", "/api/user/password", profile.change_password, "user",
      "Change one's password; every other session ends", body=profile.PASSWORD_CHANGE, limit=("password-user",),
      reply=Reply(message=Text(), sessionsEnded=Integer()), errors=("400 wrong_password",)),
    R("GET", "/api/user/sessions", profile.my_sessions, "user",
      "One's sessions: device, address, when started and last used, which one is this",
      reply=Page(SESSION)),
    R("DELETE", "/api/user/sessions/<id>", profile.end_session, "user", "End one of one's sessions",
      reply=OK, errors=NOT_FOUND),
    R("GET", "/api/user/export", profile.export, "user",
      "Everything stored about oneself, as one JSON document (a download)", limit=("export-user",),
      reply=Reply(export=ACCOUNT_EXPORT)),
    R("GET", "/api/admin/users", admin.list_users, "admin",
      "Every account: search by name or e-mail, filter by role and disabled; CSV", query=admin.USERS,
      media=("application/json", "text/csv"), reply=Page(USER)),
    R("PATCH", "/api/admin/users/<id>", accounts.update_user, "admin", "Change a user's role or disable them",
      body=accounts.USER_CHANGES, reply=Reply(user=USER), errors=(*NOT_FOUND, "409 self_change")),
    R("POST", "/api/admin/users/<id>/sessions/revoke", accounts.end_user_sessions, "admin",
      "End every session of a user at once", reply=Reply(revoked=Integer(description="Sessions ended")),
      errors=NOT_FOUND),
    R("GET", "/api/user/notifications", accounts.my_notifications, "user",
      "Own notifications, newest first", query=accounts.NOTIFICATIONS, name="certificates_my_notifications",
      reply=Page(NOTIFICATION, unread=Integer(description="How many are unread, for a badge"))),
    R("GET", "/api/user/events", events.user_events, "user",
      "Live updates: the user's notifications as Server-Sent Events (id: the notification's id, event: "
      "notification, data: the Notification), resumed after Last-Event-ID; ends when the session's access "
      "token expires", query=events.EVENTS_QUERY, media=("text/event-stream",)),
    R("POST", "/api/user/notifications/read", accounts.mark_read, "user",
      "Mark notifications read (all when no ids)", body=accounts.MARK_READ, name="certificates_mark_read",
      reply=Reply(marked=Integer())),

    # catalog
    R("GET", "/api/courses", catalog.list_courses, "anyone",
      "Published courses: search, filter by tag, level, category, language, instructor and price, sort, paginate",
      query=catalog.CATALOG_QUERY, cache="courses", reply=Page(COURSE_CARD)),
    R("GET", "/api/courses/facets", catalog.course_facets, "anyone",
      "How many published courses the filters select, per tag, level, category and language",
      query=catalog.FACETS_QUERY, cache="courses", reply=Reply(total=Integer(), facets=COURSE_FACETS)),
    R("GET", "/api/courses/<slug>", catalog.get_course, "anyone",
      "A course's modules and lessons; content only for preview lessons (archived courses stay readable)",
      cache="courses", reply=Reply(course=COURSE_DETAIL), errors=NOT_FOUND),
    R("GET", "/api/courses/<id>/thumbnail", catalog.thumbnail, "anyone",
      "The course's image: a redirect to where it is stored (cacheable for a day with the current v)",
      query=catalog.THUMBNAIL_QUERY, redirects=True, errors=NOT_FOUND),
    R("GET", "/api/admin/courses", catalog.list_all_courses, "staff",
      "Every course in any status: search, filter, paginate", query=catalog.ADMIN_QUERY, reply=Page(COURSE_CARD)),
    R("POST", "/api/admin/courses", catalog.create_course, "staff",
      "Create a course (draft unless told otherwise); an instructor who creates one teaches it",
      body=catalog.authoring.COURSE, invalidates=("courses",), reply=Reply(201, course=COURSE_FOR_EDITING),
      errors=("409 slug_taken",)),
    R("GET", "/api/admin/courses/<id>", catalog.get_course_for_editing, "staff",
      "A course with every lesson's content, for the editor; its ETag is the course's version",
      reply=EDITING, errors=NOT_FOUND),
    R("PUT", "/api/admin/courses/<id>", catalog.update_course, "staff",
      "Change the fields named in the body; modules is the new outline, where a module or lesson sent with its id "
      "keeps what it leaves out, and removing lessons with learners' progress needs confirmRemoval." + IF_MATCH,
      body=catalog.EDIT, invalidates=("courses",), reply=EDITING, errors=(*EDITS, "409 lessons_have_progress")),
    R("PATCH", "/api/admin/courses/<id>", catalog.edit_course, "staff",
      "Change the fields named in the body (title, price, status...), leaving the modules as they are." + IF_MATCH,
      body=catalog.authoring.DETAILS, invalidates=("courses",), reply=EDITING, errors=EDITS),
    R("DELETE", "/api/admin/courses/<id>", catalog.remove_course, "staff",
      "Archive a course with enrollments, delete one without", invalidates=("courses",),
      reply=Reply(id=Text(), outcome=OneOf(("archived", "deleted"))), errors=EDITOR),
    R("PUT", "/api/admin/courses/<id>/thumbnail", catalog.upload_thumbnail, "staff",
      "Set the course's image: multipart/form-data with one PNG or JPEG (field 'file', at most 2 MB)",
      upload=catalog.THUMBNAIL_FORM, invalidates=("courses",), reply=EDITING,
      errors=(*EDITOR, "400 invalid_multipart", "400 validation_error", "400 empty_file", "400 too_many_files",
              "413 file_too_large",
              "415 unsupported_file_type", "409 edit_conflict", "503 storage_unavailable")),
    R("DELETE", "/api/admin/courses/<id>/thumbnail", catalog.remove_thumbnail, "staff",
      "Remove the course's image", invalidates=("courses",), reply=EDITING,
      errors=(*EDITOR, "409 edit_conflict")),
    R("GET", "/api/admin/courses/<id>/students", admin.course_students, "staff",
      "A course's roster: each student's progress, last activity, latest submission and certificate; CSV",
      query=admin.ROSTER, media=("application/json", "text/csv"), reply=Page(ROSTER_ROW), errors=EDITOR),
    R("GET", "/api/admin/courses/<id>/analytics", admin.course_analytics, "staff",
      "A course's numbers: enrollments, completions and their rate, median time to complete, revenue, "
      "per-lesson drop-off", reply=Reply.flat(COURSE_ANALYTICS), errors=EDITOR),

    # learning
    R("POST", "/api/enroll", learning.enroll, "user",
      "Enroll in a course: free and simulated payments are active at once (201); a Razorpay order "
      "leaves it pending (200) with what Checkout needs", body=learning.ENROLL,
      reply=Reply((200, 201), enrollment=ENROLLMENT, order=CHECKOUT_ORDER(optional=True)),
      errors=(*NOT_FOUND, "403 simulated_payments_disabled", "409 already_enrolled", *RAZORPAY_DOWN)),
    R("GET", "/api/enrollments", learning.my_enrollments, "user", "Own enrollments with course and progress",
      query=learning.PAGED, reply=Page(ENROLLMENT)),
    R("GET", "/api/courses/<slug>/lessons/<lessonId>", learning.lesson, "anyone",
      "A lesson's content: preview lessons for anyone, others for the enrolled and staff",
      reply=Reply(lesson=LESSON), errors=(*NOT_FOUND, "401 unauthenticated", "403 not_enrolled")),
    R("POST", "/api/progress/complete-lesson", learning.complete_lesson, "user",
      "Mark a lesson done; may create the certificate", body=learning.COMPLETE,
      reply=Reply(progress=PROGRESS, certificateCreated=Boolean(), certId=Text(optional=True)),
      errors=(*NOT_FOUND, "404 lesson_not_found", "403 not_enrolled")),
    R("GET", "/api/progress/<courseId>", learning.course_progress, "user", "Completed lessons and percentage",
      reply=Reply(progress=PROGRESS_DETAIL), errors=NOT_FOUND),
    R("GET", "/api/user/certificates", certificates.my_certificates, "user", "Own certificates, newest first",
      query=certificates.MINE, name="learning_my_certificates", reply=Page(PUBLIC_CERTIFICATE)),

    # submissions
    R("POST", "/api/submissions", submissions.submit, "user",
      "Submit a project: JSON {courseId, submissionUrl}, or multipart/form-data with fields courseId, "
      "submissionUrl? and up to 5 files (field 'files', 10 MB each; PDF, ZIP, PNG, JPEG or UTF-8 text by "
      "their bytes)", body=submissions.SUBMIT, upload=submissions.FORM, reply=Reply(201, submission=SUBMISSION),
      errors=(*NOT_FOUND, "403 not_enrolled", "400 invalid_multipart", "400 too_many_files", "400 empty_file",
              "413 file_too_large", "415 unsupported_file_type", "503 storage_unavailable")),
    R("GET", "/api/submissions", submissions.my_submissions, "user", "Own submissions, newest first",
      query=submissions.MINE, reply=Page(SUBMISSION)),
    R("GET", "/api/admin/submissions", submissions.review_queue, "staff",
      "Submissions of the courses one teaches (admins: all), with names: filter by status, course, student; "
      "oldest first for a review queue", query=submissions.REVIEW_QUEUE, reply=Page(SUBMISSION_ROW)),
    R("POST", "/api/admin/verify-submission", submissions.verify, "staff",
      "Approve or reject (status) a pending submission of a course one teaches, once; the student is told "
      "(mail and notification); approval may create the certificate", body=submissions.VERIFY, reply=REVIEWED,
      errors=(*NOT_FOUND, "403 own_submission", "403 not_course_instructor", "409 already_reviewed")),
    R("GET", "/files/<key:path>", files.serve_file, "anyone",
      "A stored file: PDFs and images inline, anything else as a download (local storage); a redirect to a "
      "presigned URL (S3)",
      tags=("files",), media=("application/pdf", "image/png", "image/jpeg", "application/zip", "text/plain",
                              "application/octet-stream"), name="submissions_serve_file", errors=NOT_FOUND,
      redirects=True),

    # payments
    R("POST", "/api/payments/verify", payments.verify, "user",
      "Confirm a Razorpay Checkout payment with its handler's response: the payment as Razorpay has it "
      "(captured now when only authorised) and the enrollment, active once the payment is captured",
      body=payments.VERIFY, limit=("verify-user",), reply=Reply(payment=PAYMENT, enrollment=ENROLLMENT),
      errors=(*NOT_FOUND, "400 invalid_signature", "409 payment_mismatch", *RAZORPAY_DOWN)),
    R("POST", "/api/payments/webhook", payments.webhook, "anyone",
      "Razorpay webhook (X-Razorpay-Signature over the raw body, any configured secret): payments, orders, "
      "refunds, disputes; a bad signature is 400 (429 past 600 a minute from one address)",
      csrf=False, limit=("webhook-ip",), reply=Reply(outcome=Text()),
      errors=("400 invalid_signature", "400 invalid_json", "413 payload_too_large",
              "503 razorpay_not_configured")),
    R("GET", "/api/admin/payments", payments.list_payments, "admin",
      "Payments: filter by status, provider, method, student, course, date, flagged; CSV; with the count of "
      "rejected signatures", query=payments.PAYMENTS, media=("application/json", "text/csv"),
      reply=Page(PAYMENT_ROW, rejectedSignatures=REJECTED())),
    R("GET", "/api/admin/payments/<id>", payments.show_payment, "admin",
      "One payment with its refunds, disputes and history, its enrollment and its order",
      reply=Reply(payment=PAYMENT_DETAIL, enrollment=ENROLLMENT(nullable=True), order=ORDER(nullable=True)),
      errors=NOT_FOUND),
    R("POST", "/api/admin/payments/<id>/refund", payments.refund_payment, "admin",
      "Refund a captured payment in full or in part (through Razorpay; a simulated one here); a full refund "
      "ends the access it granted",
      body=payments.REFUND, reply=Reply(payment=PAYMENT_DETAIL, enrollment=ENROLLMENT(nullable=True)),
      errors=(*NOT_FOUND, "409 not_refundable", "409 already_refunded", *RAZORPAY_DOWN)),

    # certificates
    R("GET", "/api/certificates/<certId>", certificates.verify, "anyone",
      "Public verification: status (active, pending, expired, revoked with date and reason), names, dates, "
      "PDF, hash, and a LinkedIn Add-to-Profile link for an active certificate",
      cache="certificates", limit=("certificate-ip",), reply=VERIFICATION, errors=NOT_FOUND),
    R("GET", "/verify", certificates.verify_form, "anyone", "HTML: the verification form (?certId= redirects "
      "to its page)", tags=("certificates",), media=("text/html",), redirects=True, query=certificates.FORM_QUERY,
      errors=NOT_FOUND),
    R("GET", "/verify/<certId>", certificates.verify_page, "anyone",
      "HTML: a certificate's verification page with its status and a preview of the PDF",
      tags=("certificates",), media=("text/html",), cache="certificates", limit=("certificate-ip",),
      html_errors=certificates.verify_page_error, errors=NOT_FOUND),
    R("GET", "/api/admin/certificates", certificates.list_certificates, "staff",
      "Certificates with their real status (failed ones included), attempts and last error",
      query=certificates.ADMIN_QUERY, reply=Page(CERTIFICATE)),
    R("POST", "/api/admin/certificates/<certId>/revoke", certificates.revoke, "admin",
      "Revoke a certificate; it stays verifiable and says so", body=certificates.REVOKE,
      invalidates=("certificates",), reply=Reply(certificate=CERTIFICATE), errors=(*NOT_FOUND, "409 already_revoked")),
    R("POST", "/api/admin/certificates/<certId>/issue", certificates.reissue, "staff",
      "Re-render a certificate under the same id (new PDF and hash); {restore: true} reinstates a revoked one",
      body=certificates.REISSUE, invalidates=("certificates",), reply=Reply(certificate=CERTIFICATE),
      errors=(*NOT_FOUND, "409 certificate_rendering", "409 certificate_revoked", "409 certificate_changed")),

    # certificate designs and bulk work
    R("GET", "/api/admin/certificate-layouts", designs.list_layouts, "staff", "The built-in certificate layouts",
      reply=Page(LAYOUT)),
    R("GET", "/api/admin/certificate-design", designs.get_default, "staff",
      "The organisation's default certificate design (courses without their own use it)", reply=DESIGNED),
    R("PUT", "/api/admin/certificate-design", designs.put_default, "admin",
      "Replace the organisation's default certificate design", body=DESIGN, reply=DESIGNED, errors=IMAGES),
    R("GET", "/api/admin/courses/<id>/certificate-design", designs.get_course_design, "staff",
      "The design a course's certificates get (its own, else the default)", reply=DESIGNED, errors=NOT_FOUND),
    R("PUT", "/api/admin/courses/<id>/certificate-design", designs.put_course_design, "staff",
      "Replace a course's certificate design; certificates issued or re-issued from now on use it",
      body=DESIGN, reply=DESIGNED, errors=(*EDITOR, *IMAGES)),
    R("POST", "/api/admin/courses/<id>/certificate-preview", designs.preview, "staff",
      "A sample certificate of the course (PDF or PNG) with a sample name and its design, or the unsaved "
      "design given; creates nothing", body=designs.PREVIEW, media=("application/pdf", "image/png"),
      errors=(*EDITOR, *IMAGES, "503 service_unavailable")),
    R("POST", "/api/admin/certificate-images", designs.upload_image, "staff",
      "Upload a logo or signature image (multipart/form-data, field 'file': PNG or JPEG by its bytes, at most "
      "512 KiB; SVG is refused)", upload=designs.IMAGE_FORM, reply=Reply(201, image=IMAGE),
      errors=("400 invalid_multipart", "400 validation_error", "400 empty_file", "400 too_many_files",
              "400 invalid_image",
              "413 image_too_large", "415 unsupported_image_type", "503 storage_unavailable")),
    R("POST", "/api/admin/courses/<id>/certificates/reissue", designs.reissue_all, "staff",
      "Re-issue every active certificate of the course with its current design, in the worker; follow it at "
      "the batch's URL", reply=Reply(202, batch=BATCH), errors=EDITOR),
    R("GET", "/api/admin/certificate-batches/<id>", designs.batch, "staff", "How far a bulk re-issue got",
      reply=Reply(batch=BATCH), errors=NOT_FOUND),
    R("GET", "/api/admin/courses/<id>/certificates.zip", designs.download_all, "staff",
      "Every issued certificate PDF of the course in one ZIP, streamed", media=("application/zip",),
      errors=EDITOR),

    # credentials
    R("GET", "/.well-known/jwks.json", certificates.jwks, "anyone",
      "The public keys credentials are signed with (JWK Set; retired keys stay listed)",
      tags=("credentials",), schema=certificates.JWKS, name="credentials_jwks"),
    R("GET", "/api/certificates/<certId>/credential", certificates.credential, "anyone",
      "An issued certificate as an Open Badges 3.0 credential signed as a VC-JWT: {credential, jwt}, or the"
      " compact JWT alone with Accept: application/vc+jwt or ?format=jwt",
      query=certificates.CREDENTIAL_QUERY, media=("application/json", "application/vc+jwt"),
      limit=("certificate-ip",), name="credentials_credential", reply=Reply(credential=Anything(), jwt=Text()),
      errors=(*NOT_FOUND, "409 not_issued", "410 certificate_revoked")),
    R("GET", "/api/certificates/<certId>/status", certificates.status, "anyone",
      "A certificate's status right now (active, revoked, expired, pending): a credential's credentialStatus",
      limit=("certificate-ip",), name="credentials_status", reply=Reply.flat(CERTIFICATE_STATUS), errors=NOT_FOUND),
    R("POST", "/api/certificates/verify-pdf", certificates.verify_pdf, "anyone",
      "Whether an uploaded PDF (multipart/form-data, field 'file', at most 5 MB) is exactly one of our "
      "certificates: {match, certificate?}", upload=certificates.FORM,
      csrf=False, limit=("verify-pdf-ip",), name="credentials_verify_pdf",
      reply=Reply(match=Boolean(), certificate=SHARED_CERTIFICATE(optional=True)),
      errors=("400 invalid_multipart", "400 validation_error", "400 empty_file", "400 not_a_pdf",
              "400 too_many_files", "413 payload_too_large", "415 unsupported_media_type")),

    # admin
    R("GET", "/api/admin/students", admin.list_students, "staff",
      "Students: search by name or e-mail, counts of enrollments, completions and certificates; CSV",
      query=admin.STUDENTS, media=("application/json", "text/csv"), reply=Page(STUDENT_ROW)),
    R("GET", "/api/admin/enrollments", admin.list_enrollments, "staff",
      "Enrollments of the courses one teaches (admins: all): filter by course, student, status and date; sort; CSV",
      query=admin.ENROLLMENTS, media=("application/json", "text/csv"), reply=Page(ENROLLMENT_ROW)),
    R("GET", "/api/admin/analytics", admin.show_analytics, "admin",
      "Totals and per-day series of enrollments, completions, certificates, revenue; top courses",
      query=admin.ANALYTICS, reply=Reply.flat(ANALYTICS)),
    R("GET", "/api/admin/logs", admin.list_logs, "admin",
      "The audit trail, newest first: filter by action, actor, target, request and date",
      query=admin.LOGS, reply=Page(AUDIT_ROW)),
]
