"""Loopback doubles of the outside services (Razorpay, Cloudinary, an SMTP server), each checking
what the real one checks. Each module defines its double's fixture (``razorpay_double``,
``cloudinary_double``, ``smtp_server``); tests/conftest.py registers them for every test."""
