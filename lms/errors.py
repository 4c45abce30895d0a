"""The one error family.

Domain code raises these; ``lms.web`` turns any of them into the JSON envelope
``{"ok": false, "error": {"code", "message", "fields"?}}`` with ``status``. Anything that is
not an ``LMSError`` is a bug or an outage: it is logged with the request id and the client
gets a bare 500 (or 503 when the database is unreachable), never a traceback.

    LMSError
    ├── BadRequest            400 bad_request
    │   └── ValidationError   400 validation_error (per-field messages)
    ├── Unauthenticated       401 unauthenticated
    ├── Forbidden             403 forbidden
    ├── NotFound              404 not_found
    ├── MethodNotAllowed      405 method_not_allowed
    ├── RequestTimeout        408 request_timeout (a request body stopped arriving)
    ├── Conflict              409 conflict
    ├── Gone                  410 gone (it existed, and is no longer to be had)
    ├── PreconditionFailed    412 precondition_failed (If-Match names another version)
    ├── PayloadTooLarge       413 payload_too_large
    ├── UnsupportedMediaType  415 unsupported_media_type
    ├── RateLimited           429 rate_limited (Retry-After)
    ├── BadGateway            502 (an upstream service answered nonsense)
    └── ServiceUnavailable    503 (a dependency is down or not configured)

    OutsideServiceError       an outside service failed: no HTTP status of its own
    ├── RazorpayUnavailable   Razorpay down, slow or answering errors
    ├── RazorpayRejected      Razorpay refused the request (keys, amounts)
    ├── StorageError          the file storage failed (disk, network, credentials)
    ├── MailError             a message could not be built or delivered
    └── RenderError           the PDF renderer failed (missing, timed out, crashed)

The domain raises ``OutsideServiceError``s without knowing it is served over HTTP; the web layer
(``lms.web.plugin.OUTSIDE``) decides what each one answers. Their text is for the log and is
safe there (no secrets); clients get the answer the web layer chooses, never that text.

This module imports nothing from the project, so every layer can use it.
"""


class LMSError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message, *, code=None, fields=None, headers=None, extra=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra or {}  # more top-level members of the error body

    def body(self):
        error = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"ok": False, "error": error, **self.extra}


class BadRequest(LMSError):
    status, code = 400, "bad_request"


class ValidationError(BadRequest):
    code = "validation_error"

    def __init__(self, fields, message="Some fields are invalid", **kwargs):
        super().__init__(message, fields=fields, **kwargs)


class Unauthenticated(LMSError):
    status, code = 401, "unauthenticated"


class Forbidden(LMSError):
    status, code = 403, "forbidden"


class NotFound(LMSError):
    status, code = 404, "not_found"


class MethodNotAllowed(LMSError):
    status, code = 405, "method_not_allowed"


class RequestTimeout(LMSError):
    status, code = 408, "request_timeout"


class Conflict(LMSError):
    status, code = 409, "conflict"


class Gone(LMSError):
    status, code = 410, "gone"
class PreconditionFailed(LMSError):
    status, code = 412, "precondition_failed"


class PayloadTooLarge(LMSError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(LMSError):
    status, code = 415, "unsupported_media_type"


class RateLimited(LMSError):
    status, code = 429, "rate_limited"

    def __init__(self, retry_after, message="Too many requests; try again later"):
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message, headers={"Retry-After": str(seconds)})
        self.retry_after = seconds


class BadGateway(LMSError):
    status, code = 502, "bad_gateway"


class ServiceUnavailable(LMSError):
    status, code = 503, "service_unavailable"


class OutsideServiceError(Exception):
    """An outside service failed; ``str(exc)`` says how, safe to log (never a secret)."""


class RazorpayUnavailable(OutsideServiceError):
    pass


class RazorpayRejected(OutsideServiceError):
    pass


class StorageError(OutsideServiceError):
    """``retry_after``: seconds the service asked us to wait (a rate limit's reset), or None."""

    def __init__(self, message, *, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class MailError(OutsideServiceError):
    pass


class RenderError(OutsideServiceError):
    pass
