"""Stored files of the local storage, served at ``/files/<key>`` (with Cloudinary they live there;
with S3 the route answers a redirect to a presigned URL of the private object).

Decisions:
- HTML or SVG is plain text here. That is harmless because nothing is ever served as
  ``text/html``: text goes out as ``text/plain`` with ``nosniff``, as an attachment, under a
  ``sandbox`` policy. Only PDFs and PNG/JPEG images are shown inline.
- PDFs are served without the CSP ``sandbox`` directive: Chrome, Firefox and Safari refuse to
  run their built-in PDF viewers in a sandboxed document (chromium issue 41131921; PrivateBin
  PR #1552), and certificates must open in the browser. Chrome's viewer page also needs inline
  styles. The viewers run a PDF's own scripts in their own isolated sandbox, not in our origin.
  PDFs may also be framed by this origin's pages (the verify page embeds the certificate in an
  ``<object>``); nothing else may be framed at all.
"""
import bottle

from ..adapters.storage import LocalStorage, check_key
from ..adapters.storage import kinds as files
from ..certificates import rendering

INLINE = ("application/pdf", "image/png", "image/jpeg")
SANDBOXED = {"Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
             "X-Frame-Options": "DENY"}
PDF_HEADERS = {"Content-Security-Policy":
               "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
               "X-Frame-Options": "SAMEORIGIN"}
FILE_CACHE = "private, max-age=300"  # certificates are re-issued under the same key


def serve_file(db, storage, key):
    """A file of the local storage folder; 404 for anything else, and always when files live on
    Cloudinary (their URLs point there). With S3, a 303 to a short-lived presigned URL. A revoked
    certificate's clean files are answered with its stamped copies (``rendering.file_to_serve``)."""
    key = rendering.file_to_serve(db, key)
    if hasattr(storage, "presigned"):
        try:
            location = storage.presigned(check_key(key))
        except ValueError:
            return bottle.HTTPError(404, "No such file")
        bottle.response.status = 303
        bottle.response.set_header("Location", location)
        bottle.response.set_header("Cache-Control", "no-store")  # the signature expires
        return ""
    path = storage.path_for(key) if isinstance(storage, LocalStorage) else None
    if path is None:
        return bottle.HTTPError(404, "No such file")
    try:
        with open(path, "rb") as stored:
            content_type, inline, headers = serving(stored.read(files.SNIFF_BYTES))
    except FileNotFoundError:  # deleted since path_for looked
        return bottle.HTTPError(404, "No such file")
    return bottle.static_file(path.name, root=str(path.parent), mimetype=content_type,
                              download=False if inline else path.name,
                              headers={**headers, "Cache-Control": FILE_CACHE})


def serving(head):
    """``(content type, inline, security headers)`` for a stored file beginning ``head``."""
    kind = files.sniff(head, complete=False)
    content_type = kind[0] if kind else "application/octet-stream"
    headers = PDF_HEADERS if content_type == "application/pdf" else SANDBOXED
    return content_type, content_type in INLINE, dict(headers)
