"""Everything that knows HTTP: the app, its plugin and middleware, bodies, pages, the guard,
the response cache, rate limits, URLs, the OpenAPI description and the server."""
