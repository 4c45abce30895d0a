"""The OpenAPI 3.1 description, built from the route table and its schemas."""
import re

from .. import __version__
from .ratelimit import RULES

ERROR = {"type": "object", "required": ["ok", "error"], "properties": {
    "ok": {"const": False},
    "error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}}
OK = {"type": "object", "required": ["ok"], "properties": {"ok": {"const": True}}}
ERRORS_BY_WHO = {"anyone": [], "user": ["401"], "staff": ["401", "403"], "admin": ["401", "403"]}


def describe(routes, settings):
    paths = {}
    for route in routes:
        path = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.path)
        success = {"description": "Success", "content": {
            media: {"schema": route.schema or (OK if media == "application/json" else {"type": "string"})}
            for media in route.media}}
        error = _json(ERROR, "Error") if path.startswith("/api/") else {
            "description": "Error", "content": {"text/html": {"schema": {"type": "string"}}}}
        operation = {"summary": route.summary, "operationId": route.name, "x-who": route.who,
                     "tags": list(route.tags) or [route.path.strip("/").split("/")[1 if path.startswith("/api/") else 0]],
                     "responses": {"200": success, "default": error}}
        if route.method == "POST":
            operation["responses"]["201"] = success
        if route.cache:
            operation["responses"]["304"] = {"description": "Not modified (If-None-Match)"}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in re.findall(r"<(\w+)", route.path)]
        if route.query:
            params += [{"name": n, "in": "query", "required": f.required, "schema": f.json_schema()}
                       for n, f in route.query.fields.items()]
        if params:
            operation["parameters"] = params
        if route.limit:
            operation["x-rate-limit"] = [{"rule": name, "limit": RULES[name].limit,
                                          "windowSeconds": RULES[name].window, "per": RULES[name].key}
                                         for name in route.limit]
        if route.body:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": route.body.json_schema()}}}
        for status in ERRORS_BY_WHO[route.who]:
            operation["responses"][status] = {**error, "description": "Not signed in" if status == "401" else "Not allowed"}
        if route.who != "anyone":
            operation["security"] = [{"cookieAuth": [], "csrfHeader": []}]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {"openapi": "3.1.0",
            "info": {"title": "lms", "version": __version__,
                     "description": "Online-course platform API. Errors use one envelope: "
                                    "{ok: false, error: {code, message, fields?}}."},
            "servers": [{"url": settings.public_url}],
            "paths": paths,
            "components": {"securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "access_token"},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-XSRF-TOKEN",
                               "description": "Echo of the XSRF-TOKEN cookie on unsafe methods"}},
                "schemas": {"Error": ERROR}}}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}
