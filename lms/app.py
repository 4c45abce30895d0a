"""The WSGI application: one Bottle app, registered from the route table."""
import json
from pathlib import Path

import bottle

from . import errors
from .routes import ROUTES
from .web import Middleware, Plugin, is_api

VIEWS = Path(__file__).resolve().parent.parent / "views"


def create_app(runtime):
    """The Bottle app for ``runtime``, wrapped in the request-id/log/headers middleware.

    The Bottle app itself is reachable as ``.bottle`` on the returned object.
    """
    app = bottle.Bottle()
    app.install(Plugin(runtime))
    for route in ROUTES:
        app.route(route.path, route.method, route.handler, who=route.who, body=route.body,
                  query=route.query, csrf=route.csrf, cache=route.cache, invalidates=route.invalidates)
    for status, error in ((404, errors.NotFound("No such resource")),
                          (405, errors.MethodNotAllowed("Method not allowed")),
                          (500, errors.LMSError("Internal server error"))):
        app.error_handler[status] = _error_page(error)
    wrapped = Middleware(app, runtime.settings)
    wrapped.bottle = app
    return wrapped


def _error_page(error):
    """JSON on /api/, a small HTML page elsewhere; never Bottle's page with a traceback."""
    def handler(http_error):
        response = bottle.response
        if is_api(bottle.request.path):
            response.content_type = "application/json"
            return json.dumps(error.body())
        response.content_type = "text/html; charset=utf-8"
        return bottle.template("error", status=error.status, message=error.message,
                               template_lookup=[str(VIEWS)])
    return handler
