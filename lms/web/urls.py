"""Absolute links to this service, built from the route table: the one place a URL is spelled.

    urls = Urls(ROUTES, "https://learn.example.com")
    urls.url_for("certificates_verify_page", certId="CERT-7K3M9QXH2P")
    # -> "https://learn.example.com/verify/CERT-7K3M9QXH2P"

A route's name is its OpenAPI ``operationId``. ``url_for`` refuses a name that is not a route
and parameters that do not fill its path, so a link can only point where a route answers.

Two kinds of address are not routes, on purpose:
- ``frontend(path, **query)``: a page of the frontend (the password-reset form), on the
  frontend's base URL; the frontend serves it, not this service.
- ``identifier(*parts)``: an IRI that names something inside a signed credential and is never
  fetched: the issuer (``/issuer``) and the credential's subject (``/api/users/<id>``). Open
  Badges 3.0 requires them to be URIs, not to resolve; verifiers use the key set and the status
  endpoint, both of which are routes.

Domain code never imports this module: it receives a ``Urls`` (``runtime.urls``) like any other
adapter.
"""
import re
from urllib.parse import quote, urlencode

_PARAM = re.compile(r"<(\w+)(?::(\w+))?>")


class Urls:
    def __init__(self, routes, public_url, frontend_url=None):
        self.base = public_url.rstrip("/")
        self.frontend_base = (frontend_url or public_url).rstrip("/")
        self._paths = {}
        for route in routes:
            self._paths.setdefault(route.name, route.path)

    def path(self, name, query=None, **params):
        """The path of route ``name`` with ``params`` filled in (quoted), and ``query``."""
        try:
            template = self._paths[name]
        except KeyError:
            raise LookupError(f"no route is named {name!r}") from None
        wanted = {match[1] for match in _PARAM.finditer(template)}
        if wanted != set(params):
            raise TypeError(f"route {name!r} takes {sorted(wanted)}, not {sorted(params)}")

        def fill(match):
            # A ``:path`` parameter keeps its slashes; any other is one segment.
            return quote(str(params[match[1]]), safe="/" if match[2] == "path" else "")
        path = _PARAM.sub(fill, template)
        return f"{path}?{urlencode(query)}" if query else path

    def url_for(self, name, query=None, **params):
        return self.base + self.path(name, query, **params)

    def frontend(self, path, **query):
        return f"{self.frontend_base}/{path.lstrip('/')}" + (f"?{urlencode(query)}" if query else "")

    def identifier(self, *parts):
        return "/".join([self.base, *(quote(str(part), safe="") for part in parts)])
