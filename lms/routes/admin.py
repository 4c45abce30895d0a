"""Placeholder: routes of this area are added here."""
ROUTES = []
