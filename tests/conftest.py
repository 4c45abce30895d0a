"""Puts the project and ``tests/`` on sys.path, so that ``lms`` and the ``support`` package
import, and registers the shared fixtures once, for every test module."""
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

pytest_plugins = [
    "support.fixtures",  # the database, settings, the app, signed-in clients, live servers
    "support.doubles.cloudinary",  # cloudinary_double
    "support.doubles.razorpay",  # razorpay_double
    "support.doubles.s3",  # s3_double
    "support.doubles.smtp",  # smtp_server
    "support.doubles.sentry",  # sentry_double
]
