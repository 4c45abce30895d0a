"""Verifiable credentials: the published keys, signed credentials, status and verify-by-PDF."""
ROUTES = []
