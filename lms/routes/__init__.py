"""The route table: every URL of the service on one screen.

``who``: anyone · user (signed in) · staff (instructor or admin) · admin. The app registers
its routes from this list, the guard reads ``who`` from it, ``/api/openapi.json`` is built
from it and the tests walk it, so none of them can drift from the others.
"""
from dataclasses import dataclass, field

from . import system


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Bottle syntax: /api/courses/<slug>
    handler: object
    who: str
    summary: str
    body: object = None  # lms.schema.Obj for JSON bodies
    query: object = None  # lms.schema.Obj for query strings
    csrf: bool = True  # cookie-authenticated unsafe requests must carry X-XSRF-TOKEN
    tags: tuple = field(default=())


R = Route
ROUTES = [
    R("GET", "/api/health", system.health, "anyone", "Service and dependency status"),
    R("GET", "/api/openapi.json", system.openapi, "anyone", "This API description"),
]
