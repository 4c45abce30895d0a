"""Files in a folder of the data dir, served by the app at ``/files/<key>``."""
from pathlib import Path

from ...errors import StorageError
from ..disk import write_atomically
from .keys import check_key


class LocalStorage:
    """Files in a folder. Writes go to a temporary file that is renamed into place, so a
    reader sees the old file or the new one, never a torn one.

    The content type is not kept: the ``/files/<key>`` route derives it from the extension
    (keys carry one), which is also what Cloudinary does for raw resources.
    """

    def __init__(self, root, file_url):
        self.root = Path(root).resolve()
        self.file_url = file_url  # key -> the absolute URL the app serves it at

    def url_for(self, key):
        return self.file_url(check_key(key))

    def _path(self, key):
        path = self.root.joinpath(*check_key(key).split("/"))
        # Belt and braces: check_key already refuses "..", this also catches symlinks.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def put(self, key, data, content_type=None):
        path = self._path(key)
        try:
            write_atomically(path, data)
        except OSError as exc:
            raise StorageError(f"cannot store {key}: {exc.strerror or exc}") from None
        return self.url_for(key)

    def get(self, key):
        """The bytes stored under ``key``; FileNotFoundError when there are none."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror or exc}") from None

    def path_for(self, key):
        """The file behind ``key`` for the route that serves it, or None when there is none
        (or the key is not a valid one: the route answers 404 either way)."""
        try:
            path = self._path(key)
        except ValueError:
            return None
        return path if path.is_file() else None

    def delete(self, key):
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc.strerror or exc}") from None
