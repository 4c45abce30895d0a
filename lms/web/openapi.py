"""The OpenAPI 3.1 description, built once per process from the route table and its shapes.

Every operation says who may call it (the cookie security scheme, and ``x-who``), what it takes
(path and query parameters, a JSON or multipart body, ``X-XSRF-TOKEN`` exactly where CSRF is
checked), its rate limits (``x-rate-limit``), each success it answers with the schema of its
output shape (``components.schemas``: one per shape, and a ``<Item>Page`` per list), and each
error it may answer with the codes it may carry. Errors it can answer follow from its columns
(a private route may be 401, a body 400/413/415, a limit 429...) plus the ``errors`` the route
declares; every ``/api/`` route may be 503 when the database is down.
"""
import re

from .. import __version__
from ..schema import REGISTRY, Page
from .guard import CSRF_COOKIE, UNSAFE_METHODS, refusals
from .ratelimit import RULES

ERROR = {"type": "object", "required": ["ok", "error"], "properties": {
    "ok": {"const": False},
    "error": {"type": "object", "required": ["code", "message"], "additionalProperties": False, "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Per-field messages, by field name (dotted for nested fields)"}}}},
         "description": "The one error envelope. Some errors carry more: 409 already_enrolled the "
                        "enrollment, 409 already_reviewed the submission, a health 503 the db and worker."}
DESCRIPTIONS = {"200": "Success", "201": "Created", "303": "See Other: the page to go to (Location)",
                "304": "Not Modified (If-None-Match)", "400": "Invalid request", "401": "Not signed in",
                "403": "Not allowed", "404": "Not found", "409": "Conflict", "413": "Too large",
                "415": "Unsupported media type", "429": "Too many requests", "502": "An outside service failed",
                "503": "Unavailable"}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer"}}}


def describe(routes, public_url):
    pages = {}
    paths = {}
    for route in routes:
        path = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, path, pages)
    schemas = {name: shape.component() for name, shape in sorted(REGISTRY.items())}
    schemas.update(pages)
    schemas["Error"] = ERROR
    return {"openapi": "3.1.0",
            "info": {"title": "lms", "version": __version__,
                     "description": "Online-course platform API. Errors use one envelope: "
                                    "{ok: false, error: {code, message, fields?}}."},
            "servers": [{"url": public_url}],
            "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "access_token",
                               "description": "The session: set by sign-up and sign-in, renewed by refresh"},
                "refreshCookie": {"type": "apiKey", "in": "cookie", "name": "refresh_token",
                                  "description": "Sent only to /api/auth/*; rotates at each refresh"}}}}


def _operation(route, path, pages):
    api = path.startswith("/api/")
    operation = {"summary": route.summary, "operationId": route.name, "x-who": route.who,
                 "tags": list(route.tags) or [route.path.strip("/").split("/")[1 if api else 0]]}
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in re.findall(r"<(\w+)", route.path)]
    if route.query:
        params += [{"name": n, "in": "query", "required": f.required, "schema": f.json_schema()}
                   for n, f in route.query.fields.items()]
    if _checks_csrf(route):
        params.append({"name": "X-XSRF-TOKEN", "in": "header", "required": True, "schema": {"type": "string"},
                       "description": f"The value of the {CSRF_COOKIE} cookie (double-submit CSRF check)"})
    if params:
        operation["parameters"] = params
    content = {}
    if route.body:
        content["application/json"] = {"schema": route.body.json_schema()}
    if route.upload:
        content["multipart/form-data"] = {"schema": route.upload.json_schema()}
    if content:
        operation["requestBody"] = {"required": True, "content": content}
    if route.limit:
        operation["x-rate-limit"] = [{"rule": name, "limit": RULES[name].limit,
                                      "windowSeconds": RULES[name].window, "per": RULES[name].per,
                                      "counts": RULES[name].counts}
                                     for name in route.limit]
    if route.who != "anyone":
        operation["security"] = [{"cookieAuth": []}]
    elif route.path.startswith("/api/auth/") and route.csrf:
        operation["security"] = [{"refreshCookie": []}, {}]
    operation["responses"] = {**_successes(route, pages), **_errors(route, api)}
    return operation


def _checks_csrf(route):
    # Unsafe methods with cookies are checked; signed-in routes always have them, and so do
    # refresh and logout (the refresh cookie).
    return route.csrf and route.method in UNSAFE_METHODS and (route.who != "anyone" or route.path.startswith("/api/auth/"))


def _successes(route, pages):
    answers = {}
    for reply in getattr(route.reply, "replies", (route.reply,) if route.reply is not None else ()):
        schema = reply.schema()
        if isinstance(reply, Page):
            name = f"{reply.item.name}Page"
            pages[name] = schema
            schema = {"$ref": f"#/components/schemas/{name}"}
        for status in reply.statuses:
            content = {"application/json": {"schema": schema}}
            content.update({media: {"schema": {"type": "string"}} for media in route.media
                            if media != "application/json"})
            answers[str(status)] = {"description": reply.description, "content": content}
    if route.reply is None:
        answers["200"] = {"description": "Success", "content": {
            media: {"schema": route.schema if media == "application/json" and route.schema else
                    {"type": "string", **({"format": "binary"} if not media.startswith("text/") else {})}}
            for media in route.media}}
    if route.cache:
        answers["304"] = {"description": DESCRIPTIONS["304"]}
    if route.redirects:
        answers["303"] = {"description": DESCRIPTIONS["303"],
                          "headers": {"Location": {"schema": {"type": "string"}}}}
    return answers


def _errors(route, api):
    codes = {}

    def may(status, code):
        codes.setdefault(str(status), []).append(code)

    for entry in refusals(route.who, route.path):
        may(*entry.split(" ", 1))
    if _checks_csrf(route):
        may(403, "csrf_failed")
    if route.body:
        for status, code in ((400, "validation_error"), (400, "invalid_json"), (413, "payload_too_large"),
                             (415, "unsupported_media_type")):
            may(status, code)
    if route.upload:
        may(413, "payload_too_large")
        may(415, "unsupported_media_type")
    if route.query:
        may(400, "validation_error")
    if route.limit:
        may(429, "rate_limited")
    for entry in route.errors:
        status, code = entry.split(" ", 1)
        may(status, code)
    if api:
        may(503, "database_unavailable")
    answers = {}
    for status, found in sorted(codes.items()):
        unique = sorted(set(found))
        answer = {"description": DESCRIPTIONS.get(status, "Error")}
        if status in ("429", "503"):
            answer["headers"] = RETRY_AFTER
        if api:
            answer["content"] = {"application/json": {"schema": {"allOf": [
                {"$ref": "#/components/schemas/Error"},
                {"required": ["error"], "properties": {"error": {
                    "required": ["code"], "properties": {"code": {"enum": unique}}}}}]}}}
        else:
            answer["content"] = {"text/html": {"schema": {"type": "string"}}}
        answers[status] = answer
    return answers
