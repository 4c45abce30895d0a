"""Settings: every variable parsed, validated, and named when it is wrong."""
import os
import stat

import pytest

from lms.config import VARIABLES, ConfigError, Settings


def load(tmp_path, **env):
    return Settings.from_env({"LMS_DATA_DIR": str(tmp_path), **env})


def test_defaults_need_no_configuration(tmp_path):
    s = load(tmp_path)
    assert (s.env, s.host, s.port, s.bcrypt_rounds, s.worker, s.worker_concurrency) == \
        ("development", "127.0.0.1", 8080, 12, True, 2)
    assert s.public_url == "http://localhost:8080"
    assert s.cookie_secure and s.cookie_samesite == "Lax" and not s.trust_proxy
    assert s.allow_simulated_payments and not s.razorpay_enabled
    assert s.mongodb_uri == ""  # the embedded server


def test_public_url_follows_port(tmp_path):
    assert load(tmp_path, PORT="9000").public_url == "http://localhost:9000"


def test_development_secret_is_generated_once_private_and_reused(tmp_path):
    first = load(tmp_path).secret_key
    key_file = tmp_path / "secret_key"
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert load(tmp_path).secret_key == first


def test_production_names_every_missing_variable(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, LMS_ENV="production")
    assert "LMS_SECRET_KEY" in str(err.value) and "MONGODB_URI" in str(err.value)
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        load(tmp_path, LMS_ENV="production", LMS_SECRET_KEY="k" * 40)


PRODUCTION = {"LMS_ENV": "production", "LMS_SECRET_KEY": "k" * 40, "MONGODB_URI": "mongodb://db.internal/lms"}


def test_production_defaults_are_strict(tmp_path):
    s = load(tmp_path, **PRODUCTION, LMS_SIGNING_KEY=signing_key())
    assert not s.allow_simulated_payments
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "signing_key.pem").exists()
    assert load(tmp_path, **PRODUCTION, LMS_SIGNING_KEY=signing_key(),
                LMS_ALLOW_SIMULATED_PAYMENTS="1").allow_simulated_payments
    with pytest.raises(ConfigError, match="LMS_SIGNING_KEY"):
        load(tmp_path, **PRODUCTION)


def signing_key():
    from lms.config import _new_signing_key
    return _new_signing_key()


def test_development_signing_key_is_generated_once_and_private(tmp_path):
    first = load(tmp_path).signing_key
    assert "PRIVATE KEY" in first
    assert stat.S_IMODE(os.stat(tmp_path / "signing_key.pem").st_mode) == 0o600
    assert load(tmp_path).signing_key == first


def test_signing_keys_may_be_given_on_one_line(tmp_path):
    pem = signing_key()
    assert load(tmp_path, LMS_SIGNING_KEY=pem.replace("\n", "\\n")).signing_key == pem.strip()


@pytest.mark.parametrize("name, value", [
    ("LMS_SIGNING_KEY", "not a key"),
    ("LMS_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
    ("LMS_RETIRED_SIGNING_KEYS", "garbage"),
    ("LMS_LINKEDIN_ORG_ID", "acme"),
    ("LMS_ORG_NAME", "x" * 101),
])
def test_bad_keys_and_names_are_refused(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load(tmp_path, **{name: value})


@pytest.mark.parametrize("name, value", [
    ("PORT", "http"), ("PORT", "70000"), ("LMS_ENV", "staging"), ("LMS_COOKIE_SECURE", "maybe"),
    ("LMS_COOKIE_SAMESITE", "lax"), ("LMS_BCRYPT_ROUNDS", "3"), ("LMS_WORKER_CONCURRENCY", "0"),
    ("LMS_CERT_PREFIX", "cert-"), ("MONGODB_URI", "postgres://x"), ("LMS_PUBLIC_URL", "lms.example.com"),
    ("LMS_CORS_ORIGINS", "https://a.example.com/path"), ("CLOUDINARY_URL", "https://cloud"),
    ("LMS_SMTP_URL", "mail.example.com"), ("LMS_SECRET_KEY", "short"), ("RAZORPAY_API_URL", ""),
    ("LMS_MAX_BODY_BYTES", "10"), ("LMS_DB_WAIT", "soon"),
])
def test_invalid_value_names_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load(tmp_path, **{name: value})


@pytest.mark.parametrize("given, missing", [
    ({"RAZORPAY_KEY_ID": "rzp_test_1"}, "RAZORPAY_KEY_SECRET"),
    ({"LMS_BOOTSTRAP_ADMIN_EMAIL": "admin@example.com"}, "LMS_BOOTSTRAP_ADMIN_PASSWORD"),
    ({"LMS_COOKIE_SAMESITE": "None", "LMS_COOKIE_SECURE": "0"}, "LMS_COOKIE_SECURE"),
])
def test_settings_that_go_together(tmp_path, given, missing):
    with pytest.raises(ConfigError, match=missing):
        load(tmp_path, **given)


def test_lists_and_booleans(tmp_path):
    s = load(tmp_path, LMS_CORS_ORIGINS="https://app.example.com, http://localhost:5173/",
             LMS_WORKER="0", LMS_TRUST_PROXY="true")
    assert s.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert s.worker is False and s.trust_proxy is True


def test_secrets_stay_out_of_repr(tmp_path):
    s = load(tmp_path, LMS_SECRET_KEY="s" * 40, MONGODB_URI="mongodb://user:hunter2@db/lms",
             RAZORPAY_KEY_ID="rzp_test_1", RAZORPAY_KEY_SECRET="rzp-secret-value")
    text = repr(s)
    assert "s" * 40 not in text and "hunter2" not in text and "rzp-secret-value" not in text


def test_every_variable_maps_to_a_setting():
    attributes = {f for f in Settings.__dataclass_fields__}
    assert {attr for attr, _ in VARIABLES.values()} <= attributes


def test_razorpay_payment_settings(tmp_path):
    keys = {"RAZORPAY_KEY_ID": "rzp_test_1", "RAZORPAY_KEY_SECRET": "k"}
    s = load(tmp_path, **keys, RAZORPAY_WEBHOOK_SECRET="new-secret", RAZORPAY_WEBHOOK_SECRETS="old-secret, new-secret,",
             RAZORPAY_AUTO_CAPTURE="1", RAZORPAY_ORDER_TTL="600", RAZORPAY_RECONCILE_DAYS="7",
             LMS_ORG_ADDRESS="12 MG Road\\nBengaluru")
    assert s.razorpay_webhook_secrets == ("new-secret", "old-secret")  # the current one first, each once
    assert (s.razorpay_auto_capture, s.razorpay_order_ttl, s.razorpay_reconcile_days) == (True, 600, 7)
    assert s.org_address == "12 MG Road\nBengaluru" and "old-secret" not in repr(s)
    defaults = load(tmp_path, **keys)
    assert (defaults.razorpay_webhook_secrets, defaults.razorpay_auto_capture, defaults.razorpay_order_ttl,
            defaults.razorpay_reconcile_days) == ((), False, 1800, 30)
    for name, value in (("RAZORPAY_ORDER_TTL", "30"), ("RAZORPAY_RECONCILE_DAYS", "0"),
                        ("RAZORPAY_AUTO_CAPTURE", "sometimes"), ("LMS_ORG_ADDRESS", "x" * 301)):
        with pytest.raises(ConfigError, match=name):
            load(tmp_path, **keys, **{name: value})
    with pytest.raises(ConfigError, match="RAZORPAY_WEBHOOK_SECRETS is set but RAZORPAY_KEY_ID is not"):
        load(tmp_path, RAZORPAY_WEBHOOK_SECRETS="old-secret")
