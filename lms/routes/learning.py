"""Enrollment, lesson access, progress, submissions and the student's certificates."""
ROUTES = []
