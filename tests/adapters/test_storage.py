"""File storage: the local folder, and Cloudinary through its real SDK against a loopback
double that verifies api_key and signature the way Cloudinary does."""
import email.utils
import time
import urllib.request
from datetime import datetime, timezone

import pytest

from lms.adapters.storage import CloudinaryStorage, LocalStorage, S3Storage, check_key, open_storage
from lms.adapters.storage.retry import retry_after
from lms.config import ConfigError
from lms.db import free_port
from lms.errors import StorageError
from lms.routes import ROUTES
from lms.web.urls import Urls
from support.doubles.cloudinary import CloudinaryDouble


def storage(settings):
    return open_storage(settings, lambda key: Urls(ROUTES, settings.public_url).url_for("submissions_serve_file", key=key))

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF"  # binary, every byte value


@pytest.fixture
def local(tmp_path):
    return LocalStorage(tmp_path / "files", lambda key: Urls(ROUTES, "https://lms.test/").url_for("submissions_serve_file", key=key))


def test_local_is_the_default_and_cloudinary_takes_over_when_configured(make_settings):
    settings = make_settings()
    chosen = storage(settings)
    assert isinstance(chosen, LocalStorage)
    assert chosen.root == settings.data_dir / "files"
    cloud = storage(make_settings(CLOUDINARY_URL="cloudinary://123:abc@demo"))
    assert isinstance(cloud, CloudinaryStorage) and cloud.cloud_name == "demo"
    assert "abc" not in repr(cloud)


def test_local_put_get_and_url(local, tmp_path):
    url = local.put("certificates/CERT-ABC.pdf", PDF, "application/pdf")
    assert url == "https://lms.test/files/certificates/CERT-ABC.pdf"
    assert local.get("certificates/CERT-ABC.pdf") == PDF
    assert local.path_for("certificates/CERT-ABC.pdf") == tmp_path / "files" / "certificates" / "CERT-ABC.pdf"

    local.put("certificates/CERT-ABC.pdf", b"re-issued", "application/pdf")
    assert local.get("certificates/CERT-ABC.pdf") == b"re-issued"
    assert [p.name for p in (tmp_path / "files" / "certificates").iterdir()] == ["CERT-ABC.pdf"], \
        "the atomic write leaves no temporary file behind"


def test_local_urls_are_quoted(local):
    assert local.put("submissions/k3y/my report #1.pdf", b"x", "application/pdf") == \
        "https://lms.test/files/submissions/k3y/my%20report%20%231.pdf"
    assert local.get("submissions/k3y/my report #1.pdf") == b"x"


def test_local_missing_files_and_delete(local):
    assert local.path_for("certificates/none.pdf") is None
    with pytest.raises(FileNotFoundError):
        local.get("certificates/none.pdf")
    local.put("submissions/abc/a.txt", b"a", "text/plain")
    local.delete("submissions/abc/a.txt")
    local.delete("submissions/abc/a.txt")  # twice is fine
    assert local.path_for("submissions/abc/a.txt") is None


@pytest.mark.parametrize("key", [
    "", "../secret", "certificates/../../etc/passwd", "/etc/passwd", "a//b", "a/./b", "a/",
    "a\\b", "..\\..\\x", "a\x00b", "a\nb", ".hidden", "certs/.x.pdf.1234.tmp", "x" * 600, None, b"a"])
def test_keys_that_escape_or_hide_are_refused(local, key):
    with pytest.raises(ValueError):
        check_key(key)
    with pytest.raises(ValueError):
        local.put(key, b"x", "text/plain")
    with pytest.raises(ValueError):
        local.get(key)
    assert local.path_for(key) is None


def test_a_symlink_out_of_the_root_is_refused(local, tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    local.root.mkdir(parents=True)
    (local.root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError):
        local.get("link/secret.txt")
    assert local.path_for("link/secret.txt") is None


def test_a_failing_disk_is_a_storage_error(local):
    local.put("certificates/a.pdf", b"x", "application/pdf")
    with pytest.raises(StorageError):
        local.put("certificates/a.pdf/b.pdf", b"x", "application/pdf")  # a file where a folder must be


def test_cloudinary_uploads_a_signed_raw_resource(cloudinary_double):
    store = CloudinaryStorage(cloudinary_double.url)
    url = store.put("certificates/CERT-ABC.pdf", PDF, "application/pdf")

    assert cloudinary_double.uploads == {"certificates/CERT-ABC.pdf": PDF}
    [(action, params)] = cloudinary_double.requests
    assert action == "upload"
    assert (params["public_id"], params["overwrite"], params["invalidate"]) == ("certificates/CERT-ABC.pdf", "1", "1")
    assert url.startswith(cloudinary_double.base_url) and url.endswith("/raw/upload/v%s/certificates/CERT-ABC.pdf"
                                                                    % url.split("/v")[-1].split("/")[0])
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == PDF

    store.delete("certificates/CERT-ABC.pdf")
    store.delete("certificates/CERT-ABC.pdf")  # "not found" is fine
    assert cloudinary_double.uploads == {}


def test_cloudinary_instances_do_not_share_credentials(cloudinary_double):
    with CloudinaryDouble(cloud_name="other", api_key="999", api_secret="other-secret") as other:
        CloudinaryStorage(other.url).put("a/one.txt", b"1", "text/plain")
        CloudinaryStorage(cloudinary_double.url).put("a/two.txt", b"2", "text/plain")
        assert other.uploads == {"a/one.txt": b"1"}
    assert cloudinary_double.uploads == {"a/two.txt": b"2"}


def test_a_wrong_secret_is_a_storage_error_without_the_secret(cloudinary_double):
    url = cloudinary_double.url.replace(cloudinary_double.api_secret, "not-the-secret")
    with pytest.raises(StorageError) as caught:
        CloudinaryStorage(url).put("certificates/x.pdf", PDF, "application/pdf")
    assert "Invalid Signature" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)
    assert cloudinary_double.uploads == {}


def test_a_wrong_api_key_is_a_storage_error(cloudinary_double):
    url = cloudinary_double.url.replace(cloudinary_double.api_key, "111")
    with pytest.raises(StorageError, match="Unknown API key"):
        CloudinaryStorage(url).put("certificates/x.pdf", PDF, "application/pdf")


def test_a_server_error_is_a_storage_error_and_the_next_call_succeeds(cloudinary_double):
    store = CloudinaryStorage(cloudinary_double.url)
    cloudinary_double.fail_next(1)
    with pytest.raises(StorageError, match="General Error"):
        store.put("certificates/x.pdf", PDF, "application/pdf")
    assert store.put("certificates/x.pdf", PDF, "application/pdf")
    assert cloudinary_double.uploads == {"certificates/x.pdf": PDF}


def test_nothing_listening_is_a_storage_error_quickly():
    store = CloudinaryStorage(f"cloudinary://123:abc@demo?upload_prefix=http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(StorageError):
        store.put("certificates/x.pdf", PDF, "application/pdf")
    assert time.monotonic() - started < 5


def test_cloudinary_rejects_bad_keys_and_urls_before_any_request(cloudinary_double):
    with pytest.raises(ValueError):
        CloudinaryStorage(cloudinary_double.url).put("../x.pdf", PDF, "application/pdf")
    with pytest.raises(ValueError):
        CloudinaryStorage("cloudinary://demo")
    assert cloudinary_double.requests == []


def test_s3_is_chosen_by_its_url_and_keeps_secrets_out_of_its_repr(make_settings, s3_double):
    chosen = storage(make_settings(LMS_S3_URL=s3_double.url))
    assert isinstance(chosen, S3Storage) and chosen.bucket == "lms-test" and "secret" not in repr(chosen)
    with pytest.raises(ConfigError, match="both set"):
        make_settings(LMS_S3_URL=s3_double.url, CLOUDINARY_URL="cloudinary://1:2@demo")


def test_s3_put_get_delete_and_a_prefix(make_settings, s3_double):
    chosen = storage(make_settings(LMS_S3_URL=s3_double.url.replace("@lms-test", "@lms-test/tenant-a")))
    assert chosen.put("certificates/CERT-ABC.pdf", PDF, "application/pdf") == \
        "https://lms.test/files/certificates/CERT-ABC.pdf"
    assert s3_double.keys() == ["tenant-a/certificates/CERT-ABC.pdf"]
    assert chosen.get("certificates/CERT-ABC.pdf") == PDF
    chosen.delete("certificates/CERT-ABC.pdf")
    with pytest.raises(FileNotFoundError):
        chosen.get("certificates/CERT-ABC.pdf")
    with pytest.raises(ValueError):
        chosen.put("../escape", PDF)


def test_an_unreachable_s3_is_a_storage_error(make_settings, s3_double):
    chosen = storage(make_settings(LMS_S3_URL=s3_double.url))
    s3_double.stop()
    with pytest.raises(StorageError, match="EndpointConnectionError"):
        chosen.put("a.pdf", PDF)


def test_waits_asked_for_are_read_from_seconds_dates_and_epochs():
    at = 1_800_000_000
    assert retry_after("120", now=at) == 120 and retry_after(str(at + 30), now=at) == 30
    date = email.utils.format_datetime(datetime.fromtimestamp(at + 90, timezone.utc), usegmt=True)
    assert retry_after(date, now=at) == 90 and retry_after(date, now=at + 200) == 0
    assert retry_after(None) is None and retry_after("soon") is None
