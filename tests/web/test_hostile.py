"""A hostile-input corpus replayed over real sockets against a served app, on every route of the
table: deep JSON, bytes that are not UTF-8 (in the path, the query and the body), oversized
fields, operator objects, wrong types, huge query strings, junk parameters.

Whatever the input: no 5xx; on ``/api/`` every refusal is the JSON error envelope; and nothing
is written (every collection reads the same before and after, except the rate-limit counters,
which count requests by design, and the audit entry of a tripped rate limit). Each request is
sent with the session that may call the route (an admin for signed-in routes, nobody for public
ones) and with real ids in its path, so what stops it is the hostile part alone.
"""
import json
import re
import uuid

import pymongo
import pytest

from lms.config import Settings
from lms.routes import ROUTES
from lms.schema import Bool, Id, Int, List, Obj, Str
from support.app import SECRET
from support.database import with_database
from support.doubles.razorpay import RazorpayDouble
from support.factories import create_course, create_user, pending_certificate
from support.live import Service, send_raw

AUDIT_TRIPS = {"action": {"$ne": "auth.rate_limited"}}
WEBHOOK = "/api/payments/webhook"


# --- the served app and what is in it -----------------------------------------------------

@pytest.fixture(scope="module")
def served(mongo_uri, tmp_path_factory):
    """One service for the whole corpus (it only ever refuses), every integration configured."""
    name = f"lms_test_hostile_{uuid.uuid4().hex[:8]}"
    client = pymongo.MongoClient(mongo_uri, tz_aware=True)
    client.drop_database(name)
    db = client[name]
    with RazorpayDouble() as razorpay:
        env = {"MONGODB_URI": with_database(mongo_uri, name), "LMS_SECRET_KEY": SECRET, "LMS_WORKER": "0",
               "LMS_PUBLIC_URL": "https://lms.test", **razorpay.env}
        service = Service(tmp_path_factory.mktemp("hostile"), **env).start()
        try:
            service.wait_healthy()
            yield _World(service, db, Settings.from_env({**env, "LMS_DATA_DIR": str(service.data_dir)}))
        finally:
            service.stop()
            client.drop_database(name)
            client.close()


class _World:
    def __init__(self, service, db, settings):
        self.service, self.db = service, db
        course = create_course(db, price=0)
        student, admin = create_user(db), create_user(db, "admin")
        self.student = student
        self.sessions = {"anyone": {}, "admin": service.sign_in(admin)}
        cert = pending_certificate(db, settings, user=student, course=course)
        self.params = {"id": course["_id"], "slug": course["slug"], "lessonId": "intro", "courseId": course["_id"],
                       "certId": cert["certId"], "key": "submissions/none/0123456789abcdef.pdf"}
        self.user_id = student["_id"]

    def path(self, route, value=None):
        def fill(match):
            name = match[1]
            if value is not None:
                return value
            return self.user_id if (name, route.path) == ("id", "/api/admin/users/<id>") else self.params[name]
        return re.sub(r"<(\w+)[^>]*>", fill, route.path)

    def headers(self, route):
        return self.sessions["anyone" if route.who == "anyone" else "admin"]


def snapshot(db):
    """Every document of every collection but the counters a refusal may move (rate-limit windows,
    rejected webhook signatures by day), in order."""
    return {name: list(db[name].find(AUDIT_TRIPS if name == "auditLogs" else {}).sort("_id"))
            for name in sorted(db.list_collection_names()) if name not in ("rateLimits", "rejectedSignatures")}


# --- the corpus ---------------------------------------------------------------------------

def _fields(route):
    schema = route.body or (route.upload.fields if route.upload else None)
    return schema.fields if schema else {}


def _json(value):
    return json.dumps(value).encode()


def _each_field(route, make):
    """A body with every declared field replaced by ``make(field)``, or None when no field has
    a hostile value of that kind (a body of only ignored fields could succeed)."""
    body = {name: make(field) for name, field in _fields(route).items()}
    body = {name: value for name, value in body.items() if value is not _SKIP}
    return _json(body) if body else None


_SKIP = object()


def _oversized(field):
    if isinstance(field, Str):
        return "x" * (field.max + 1)
    if isinstance(field, List):
        return ["x"] * (field.max + 1)
    if isinstance(field, Int):
        return 10 ** 30 if field.max is None else field.max + 1
    return _SKIP


def _wrong_type(field):
    return {Str: 12345, Int: "12", Bool: "true", List: "x", Obj: "x"}.get(
        next((kind for kind in (Str, Int, Bool, List, Obj) if isinstance(field, kind)), None), [1, 2])


def _surrogate(field):
    return "\ud800 lone half of a pair" if isinstance(field, Str) and not isinstance(field, Id) else _SKIP


QUERY_ATTACKS = {  # name -> (query string, statuses an API route may answer)
    "junk-parameter": ("zz=1", {400}),
    "operator-parameter": ("page%5B%24ne%5D=1", {400}),
    "huge-query": ("q=" + "x" * 7000, {400}),
    "query-not-utf8": ("q=%ff%fe", {400}),
    "raw-bytes-in-query": ("q=\xff\xfe", {400}),
    "request-line-too-long": ("q=" + "x" * 9000, {414}),
}
HEADER_ATTACKS = {  # name -> (headers, statuses an API route may answer; None: any below 500)
    "headers-not-utf8": ({"User-Agent": "\xff\xfe", "If-None-Match": '"\xff"', "Accept": "\xfe/\xfd"}, {400}),
    "cookies-not-utf8": ({"Cookie": "access_token=\xff\xfe; refresh_token=\xc3(; XSRF-TOKEN=\xff"}, None),
}
PATH_ATTACKS = {  # name -> (a value for every path parameter, statuses)
    "path-not-utf8": ("%ff%fe", {400}),
    "path-overlong": ("x" * 3000, {400, 401, 403, 404, 414}),
    "path-operator": ("%7B%22%24ne%22%3Anull%7D", {400, 404}),
    "path-traversal": ("..%2F..%2Fetc%2Fpasswd", {400, 404}),
}
BODY_ATTACKS = {  # name -> (route -> body bytes or None, statuses)
    "deep-arrays": (lambda route: b"[" * 100_000 + b"]" * 100_000, {400, 415}),
    "deep-objects": (lambda route: b'{"a":' * 40 + b"1" + b"}" * 40, {400, 415}),
    "body-not-utf8": (lambda route: b'{"name": "\xff\xfe", "email": "\xc3("}', {400, 415}),
    "not-an-object": (lambda route: b'[{"$ne": null}]', {400, 415}),
    "too-large": (lambda route: b'{"pad": "' + b"x" * (1024 * 1024 + 1) + b'"}', {413, 415}),
    "huge-number": (lambda route: b'{"price": ' + b"9" * 5000 + b"}", {400, 415}),
    "operator-objects": (lambda route: _each_field(route, lambda field: {"$ne": None}), {400, 415}),
    "wrong-types": (lambda route: _each_field(route, _wrong_type), {400, 415}),
    "oversized-fields": (lambda route: _each_field(route, _oversized), {400, 413, 415}),
    "lone-surrogates": (lambda route: _each_field(route, _surrogate), {400, 415}),
}
NOT_JSON = {"invalid_json", "unsupported_media_type"}  # the upload-only route takes no JSON at all
CODES = {"deep-arrays": NOT_JSON, "deep-objects": NOT_JSON, "body-not-utf8": NOT_JSON, "huge-number": NOT_JSON,
         "query-not-utf8": {"validation_error"}, "path-not-utf8": {"validation_error"},
         "request-line-too-long": {"uri_too_long"}, "lone-surrogates": {"validation_error", "unsupported_media_type"}}
LONG_PASSWORD = "pässwörd" * 10  # 80 characters, 100 bytes: past bcrypt's 72
PASSWORD_ATTACKS = {  # routes that take a password: past 72 bytes is a wrong password, or invalid
    "/api/auth/login": ({"email": "placeholder", "password": LONG_PASSWORD}, {401}),
    "/api/auth/signup": ({"name": "Long", "email": "long@example.com", "password": LONG_PASSWORD}, {400}),
    "/api/auth/reset-password": ({"token": "t" * 43, "password": LONG_PASSWORD}, {400}),
}


def _takes_body(route):
    return route.body is not None or route.upload is not None or route.path == WEBHOOK


def cases():
    for route in ROUTES:
        label = f"{route.method} {route.path}"
        for name in QUERY_ATTACKS:
            yield pytest.param(route, "query", name, id=f"{label} {name}")
        for name in HEADER_ATTACKS:
            yield pytest.param(route, "headers", name, id=f"{label} {name}")
        if "<" in route.path:
            for name in PATH_ATTACKS:
                yield pytest.param(route, "path", name, id=f"{label} {name}")
        if _takes_body(route):
            for name, (make, _) in BODY_ATTACKS.items():
                if make(route) is None:  # no field of this route can carry that kind of value
                    continue
                yield pytest.param(route, "body", name, id=f"{label} {name}")
        if route.path in PASSWORD_ATTACKS:
            yield pytest.param(route, "password", "password-over-72-bytes", id=f"{label} long password")


def request_for(served, route, kind, name):
    """(target, body, statuses an API route may answer, headers) of one case."""
    path, json_body = served.path(route), {"Content-Type": "application/json"}
    if kind == "query":
        query, statuses = QUERY_ATTACKS[name]
        return f"{path}?{query}", b"", statuses, {}
    if kind == "path":
        value, statuses = PATH_ATTACKS[name]
        return served.path(route, value), b"", statuses, {}
    if kind == "headers":
        headers, statuses = HEADER_ATTACKS[name]
        return path, b"", statuses, headers
    if kind == "password":
        fields, statuses = PASSWORD_ATTACKS[route.path]
        fields = {**fields, "email": served.student["email"]} if route.path == "/api/auth/login" else fields
        return path, _json(fields), statuses, json_body
    make, statuses = BODY_ATTACKS[name]
    return path, make(route), statuses, json_body


@pytest.mark.parametrize("route, kind, name", list(cases()))
def test_no_hostile_input_gets_a_5xx_breaks_the_envelope_or_writes_anything(served, route, kind, name):
    target, body, statuses, content_type = request_for(served, route, kind, name)
    before = snapshot(served.db)
    status, headers, answer = send_raw(served.service.port, route.method, target,
                                       {**served.headers(route), **content_type}, body)
    media = headers.get("Content-Type", "")
    assert status < 500, answer[:300]
    api = target.startswith("/api/")
    if api:
        assert statuses is None or status in statuses, (status, answer[:300])
    else:  # pages: a refusal is a page; parameters a page does not know are ignored
        assert status >= 400 or name in ("junk-parameter", "operator-parameter", "huge-query", "cookies-not-utf8"), (
            status, answer[:200])
    if api and status >= 400:  # (junk cookies are no session: a public route may answer them)
        assert media == "application/json", (status, media, answer[:200])
        envelope = json.loads(answer)
        assert envelope["ok"] is False and set(envelope["error"]) >= {"code", "message"}, envelope
        codes = {"invalid_signature", "payload_too_large"} if (route.path, kind) == (WEBHOOK, "body") else CODES.get(name)
        assert envelope["error"]["code"] in (codes or {envelope["error"]["code"]}), envelope
        if name == "junk-parameter":
            assert envelope["error"]["fields"] == {"zz": "is not a known parameter"}
    assert snapshot(served.db) == before
