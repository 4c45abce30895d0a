"""Every JSON answer the suite gets from the app must be what /api/openapi.json says it is.

``Conformance`` wraps the app under test: for each answer of a documented operation it checks
that the status is one the operation documents and, for a JSON body, that the body validates
against the schema documented for that status (a success's shape, an error's code among the
codes declared for the route). So every test of the suite is also a test of the description, and
a route whose answers drift from its declared shapes or error codes fails wherever it is used.
"""
import json
import re

import jsonschema_rs


class Conformance:
    def __init__(self, app, description):
        self.app, self.description = app, description
        self.operations = None  # (method, compiled path) -> {status: validator or None}

    def __getattr__(self, name):  # the wrapped app's attributes (.bottle)
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        content_type = next((v for n, v in seen.get("headers", ()) if n.lower() == "content-type"), "")
        if not content_type.startswith("application/json"):
            return body  # streams (CSV, events), pages and files pass untouched
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
        self.check(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), int(seen["status"][:3]), data)
        return [data]

    def check(self, method, path, status, data):
        documented = self._operation(method, path)
        if documented is None or status == 500:
            return  # no route (Bottle's own 404 and 405), or a bug, which its own test catches
        if str(status) not in documented:
            raise AssertionError(f"{method} {path} answered {status}, which its description does not list "
                                 f"({', '.join(sorted(documented))}): {data[:300]!r}")
        validator = documented[str(status)]
        if validator is not None:
            errors = [e.message for e in validator.iter_errors(json.loads(data))]
            if errors:
                raise AssertionError(f"{method} {path} {status} does not match its description: "
                                     f"{errors[:3]} in {data[:500]!r}")

    def _operation(self, method, path):
        if self.operations is None:
            self.operations = _compile(self.description)
        for (verb, pattern), responses in self.operations.items():
            if verb == method and pattern.fullmatch(path):
                return responses
        return None


def _compile(description):
    components = {"components": description["components"]}
    operations = {}
    for path, methods in description["paths"].items():
        # More specific paths first: /api/certificates/verify-pdf before /api/certificates/{certId}
        pattern = re.compile(re.sub(r"\\\{(\w+)\\\}", lambda m: "(.+)" if m[1] == "key" else "([^/]+)",
                                    re.escape(path)))
        for method, operation in methods.items():
            responses = {}
            for status, answer in operation["responses"].items():
                schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
                responses[status] = jsonschema_rs.validator_for({**schema, **components}) if schema else None
            operations[(method.upper(), pattern)] = responses
    literal_first = sorted(operations.items(), key=lambda item: item[0][1].pattern.count("(["))
    return dict(literal_first)
