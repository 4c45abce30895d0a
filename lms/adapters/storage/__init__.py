"""File storage: certificates' PDFs and submissions' files, behind one small interface.

    put(key, data, content_type) -> absolute URL
    get(key) -> bytes                  (FileNotFoundError when there is none)
    delete(key)                        (a missing key is not an error)

Keys are relative POSIX paths (``certificates/CERT-ABC.pdf``, ``submissions/<random>/<name>``),
checked by ``check_key`` for both backends, so a key that works in development works in
production. ``LocalStorage`` (no ``CLOUDINARY_URL`` or ``LMS_S3_URL``) keeps files under
``DATA_DIR/files``, served by the app at ``/files/<key>``; ``CloudinaryStorage`` uploads them as
raw resources; ``S3Storage`` puts them in a private bucket, and ``/files/<key>`` redirects to a
presigned URL.
Failures of the backend raise ``StorageError``; a bad key raises ``ValueError`` (a bug in
the caller, not an outage).
"""
from pathlib import Path

from ...errors import StorageError  # noqa: F401  (the backends' failure, re-exported)
from .cloudinary import CloudinaryStorage
from .keys import check_key  # noqa: F401
from .local import LocalStorage
from .s3 import S3Storage


def open_storage(settings, file_url):
    """The backend ``settings`` choose: Cloudinary when ``cloudinary_url`` is set, S3 when
    ``s3_url`` is, else local files. ``file_url(key)`` is the app's URL of a file (local and S3)."""
    if settings.cloudinary_url:
        return CloudinaryStorage(settings.cloudinary_url)
    if settings.s3_url:
        return S3Storage(settings.s3_url, file_url)
    return LocalStorage(Path(settings.data_dir) / "files", file_url)
