"""The WSGI application: one Bottle app, registered from the route table."""
import bottle

from ..routes import ROUTES
from .middleware import Middleware
from .pages import install_error_pages
from .plugin import Plugin


def create_app(runtime):
    """The Bottle app for ``runtime``, wrapped in the request-id/log/headers middleware.

    The Bottle app itself is reachable as ``.bottle`` on the returned object. Starts the
    runtime's health checks (once per runtime; ``Runtime.close`` stops them).
    """
    runtime.readiness.start()
    app = bottle.Bottle()
    app.install(Plugin(runtime))
    for route in ROUTES:
        app.route(route.path, route.method, route.handler, who=route.who,
                  body=route.body, query=route.query, csrf=route.csrf, cache=route.cache,
                  invalidates=route.invalidates, limit=route.limit, html_errors=route.html_errors)
    install_error_pages(app)
    wrapped = Middleware(app, runtime.settings, runtime.cache)
    wrapped.bottle = app
    return wrapped
