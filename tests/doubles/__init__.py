"""Loopback doubles of the outside services, each checking what the real one checks.

Use a fixture by importing it into a test module (pytest registers imported fixtures):

    from doubles import cloudinary_double

    def test_upload(cloudinary_double, make_settings):
        settings = make_settings(CLOUDINARY_URL=cloudinary_double.url)
"""
import pytest

from .cloudinary import CloudinaryDouble

__all__ = ["CloudinaryDouble", "cloudinary_double"]


@pytest.fixture
def cloudinary_double():
    """A running CloudinaryDouble, stopped after the test."""
    with CloudinaryDouble() as double:
        yield double
