"""Settings from the environment.

This is the only module that reads ``os.environ``. Every variable is parsed and validated
here, once, at start-up; a bad value stops the process with a message that names the
variable. The README's configuration table lists the same variables (a test keeps the two
in step), so ``VARIABLES`` below is the single list of what can be configured.
"""
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


# name -> (Settings attribute, default as the environment would spell it)
VARIABLES = {
    "LMS_ENV": ("env", "development"),
    "HOST": ("host", "127.0.0.1"),
    "PORT": ("port", "8080"),
    "LMS_DATA_DIR": ("data_dir", "./data"),
    "MONGODB_URI": ("mongodb_uri", ""),
    "LMS_DB_WAIT": ("db_wait", "30"),
    "LMS_SECRET_KEY": ("secret_key", ""),
    "LMS_PUBLIC_URL": ("public_url", ""),
    "LMS_FRONTEND_URL": ("frontend_url", ""),
    "LMS_CORS_ORIGINS": ("cors_origins", ""),
    "LMS_COOKIE_SECURE": ("cookie_secure", "1"),
    "LMS_COOKIE_SAMESITE": ("cookie_samesite", "Lax"),
    "LMS_COOKIE_DOMAIN": ("cookie_domain", ""),
    "LMS_EMAIL_VERIFICATION": ("email_verification", "optional"),
    "LMS_TRUST_PROXY": ("trust_proxy", "0"),
    "LMS_MAX_BODY_BYTES": ("max_body_bytes", str(1024 * 1024)),
    "LMS_HEADER_TIMEOUT": ("header_timeout", "10"),
    "LMS_BODY_TIMEOUT": ("body_timeout", "30"),
    "LMS_KEEPALIVE_TIMEOUT": ("keepalive_timeout", "75"),
    "LMS_MAX_CONNECTIONS": ("max_connections", "1000"),
    "LMS_CACHE_BYTES": ("cache_bytes", str(32 * 1024 * 1024)),
    "LMS_BCRYPT_ROUNDS": ("bcrypt_rounds", "12"),
    "LMS_WORKER": ("worker", "1"),
    "LMS_WORKER_CONCURRENCY": ("worker_concurrency", "2"),
    "LMS_CERT_PREFIX": ("cert_prefix", "CERT"),
    "LMS_BOOTSTRAP_ADMIN_EMAIL": ("bootstrap_admin_email", ""),
    "LMS_BOOTSTRAP_ADMIN_PASSWORD": ("bootstrap_admin_password", ""),
    "LMS_ALLOW_SIMULATED_PAYMENTS": ("allow_simulated_payments", ""),
    "CLOUDINARY_URL": ("cloudinary_url", ""),
    "LMS_S3_URL": ("s3_url", ""),
    "LMS_STORAGE_RETRY_HOURS": ("storage_retry_hours", "24"),
    "RAZORPAY_KEY_ID": ("razorpay_key_id", ""),
    "RAZORPAY_KEY_SECRET": ("razorpay_key_secret", ""),
    "RAZORPAY_WEBHOOK_SECRET": ("razorpay_webhook_secret", ""),
    "RAZORPAY_WEBHOOK_SECRETS": ("razorpay_webhook_secrets", ""),
    "RAZORPAY_API_URL": ("razorpay_api_url", "https://api.razorpay.com"),
    "RAZORPAY_AUTO_CAPTURE": ("razorpay_auto_capture", "0"),
    "RAZORPAY_ORDER_TTL": ("razorpay_order_ttl", "1800"),
    "RAZORPAY_RECONCILE_DAYS": ("razorpay_reconcile_days", "30"),
    "LMS_SMTP_URL": ("smtp_url", ""),
    "LMS_MAIL_FROM": ("mail_from", "LMS <no-reply@localhost>"),
    "SENTRY_DSN": ("sentry_dsn", ""),
    "LMS_SIGNING_KEY": ("signing_key", ""),
    "LMS_RETIRED_SIGNING_KEYS": ("retired_signing_keys", ""),
    "LMS_ORG_NAME": ("org_name", "LMS"),
    "LMS_ORG_ADDRESS": ("org_address", ""),
    "LMS_LINKEDIN_ORG_ID": ("linkedin_org_id", ""),
    "LMS_LOG_LEVEL": ("log_level", "INFO"),
}

_SECRET = dict(repr=False)


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    mongodb_uri: str = field(default="", **_SECRET)
    db_wait: float = 30.0
    secret_key: str = field(default="", **_SECRET)
    public_url: str = "http://localhost:8080"
    frontend_url: str = "http://localhost:8080"
    cors_origins: tuple = ()
    cookie_secure: bool = True
    cookie_samesite: str = "Lax"
    cookie_domain: str = ""
    email_verification: str = "optional"
    trust_proxy: bool = False
    max_body_bytes: int = 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 75.0
    max_connections: int = 1000
    cache_bytes: int = 32 * 1024 * 1024
    bcrypt_rounds: int = 12
    worker: bool = True
    worker_concurrency: int = 2
    cert_prefix: str = "CERT"
    bootstrap_admin_email: str = ""
    bootstrap_admin_password: str = field(default="", **_SECRET)
    allow_simulated_payments: bool = True
    cloudinary_url: str = field(default="", **_SECRET)
    s3_url: str = field(default="", **_SECRET)
    storage_retry_hours: float = 24.0
    razorpay_key_id: str = ""
    razorpay_key_secret: str = field(default="", **_SECRET)
    razorpay_webhook_secret: str = field(default="", **_SECRET)
    razorpay_webhook_secrets: tuple = field(default=(), **_SECRET)  # RAZORPAY_WEBHOOK_SECRET first
    razorpay_api_url: str = "https://api.razorpay.com"
    razorpay_auto_capture: bool = False
    razorpay_order_ttl: int = 1800
    razorpay_reconcile_days: int = 30
    smtp_url: str = field(default="", **_SECRET)
    mail_from: str = "LMS <no-reply@localhost>"
    sentry_dsn: str = field(default="", **_SECRET)
    signing_key: str = field(default="", **_SECRET)
    retired_signing_keys: str = ""
    org_name: str = "LMS"
    org_address: str = ""
    linkedin_org_id: str = ""
    log_level: str = "INFO"

    @property
    def production(self):
        return self.env == "production"

    @property
    def razorpay_enabled(self):
        return bool(self.razorpay_key_id)

    @classmethod
    def from_env(cls, environ=None, *, create_secret=True):
        """Parse ``environ`` (default: ``os.environ``); raise ConfigError naming the variable.

        In development a missing ``LMS_SECRET_KEY`` is generated once into the data dir
        (mode 0600) and reused, so sessions survive restarts without any set-up.
        """
        environ = os.environ if environ is None else environ
        raw = {name: environ.get(name, default).strip() for name, (_, default) in VARIABLES.items()}
        values = {attr: _PARSERS.get(attr, _text)(name, raw[name])
                  for name, (attr, _) in VARIABLES.items()}

        if values["env"] == "production":
            missing = [n for n in ("LMS_SECRET_KEY", "MONGODB_URI", "LMS_SIGNING_KEY") if not raw[n]]
            if missing:
                raise ConfigError("LMS_ENV=production requires " + " and ".join(missing))
        if raw["LMS_ALLOW_SIMULATED_PAYMENTS"] == "":
            values["allow_simulated_payments"] = values["env"] != "production"
        if not raw["LMS_PUBLIC_URL"]:
            values["public_url"] = f"http://localhost:{values['port']}"
        if not raw["LMS_FRONTEND_URL"]:
            values["frontend_url"] = values["public_url"]
        if values["cookie_domain"]:
            _within(values["cookie_domain"], values["public_url"])
        if values["cookie_samesite"] == "None" and not values["cookie_secure"]:
            raise ConfigError("LMS_COOKIE_SAMESITE=None requires LMS_COOKIE_SECURE=1 (browsers drop it otherwise)")
        _all_or_none(raw, "LMS_BOOTSTRAP_ADMIN_EMAIL", "LMS_BOOTSTRAP_ADMIN_PASSWORD")
        _all_or_none(raw, "RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET")
        if raw["CLOUDINARY_URL"] and raw["LMS_S3_URL"]:
            raise ConfigError("CLOUDINARY_URL and LMS_S3_URL are both set: choose one storage")
        for name in ("RAZORPAY_WEBHOOK_SECRET", "RAZORPAY_WEBHOOK_SECRETS"):
            if raw[name] and not raw["RAZORPAY_KEY_ID"]:
                raise ConfigError(f"{name} is set but RAZORPAY_KEY_ID is not")
        # During a rotation Razorpay retries earlier events signed with the earlier secret: any
        # of them verifies a delivery.
        values["razorpay_webhook_secrets"] = tuple(dict.fromkeys(
            ([raw["RAZORPAY_WEBHOOK_SECRET"]] if raw["RAZORPAY_WEBHOOK_SECRET"] else [])
            + list(values["razorpay_webhook_secrets"])))
        if raw["LMS_BOOTSTRAP_ADMIN_PASSWORD"] and not 8 <= len(raw["LMS_BOOTSTRAP_ADMIN_PASSWORD"].encode()) <= 72:
            raise ConfigError("LMS_BOOTSTRAP_ADMIN_PASSWORD must be 8 to 72 bytes")
        if create_secret:
            if not values["secret_key"]:
                values["secret_key"] = _load_or_create(values["data_dir"] / "secret_key",
                                                       lambda: secrets.token_urlsafe(48))
            if not values["signing_key"]:
                values["signing_key"] = _load_or_create(values["data_dir"] / "signing_key.pem",
                                                        _new_signing_key)
        return cls(**values)

    def replace(self, **changes):
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return type(self)(**current)


def _text(name, value):
    return value


def _number(cast, lo, hi):
    def parse(name, value):
        try:
            number = cast(value)
        except ValueError:
            kind = "a whole number" if cast is int else "a number"
            raise ConfigError(f"{name} must be {kind}, got {value!r}") from None
        if not lo <= number <= hi:
            raise ConfigError(f"{name} must be between {lo} and {hi}, got {number}")
        return number
    return parse


def _bool(name, value):
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {value!r}")


def _choice(*choices):
    def parse(name, value):
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value
    return parse


def _url(*schemes, optional=True):
    def parse(name, value):
        if not value and optional:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise ConfigError(f"{name} must be a {'/'.join(schemes)}:// URL")
        return value.rstrip("/") if parts.scheme in ("http", "https") else value
    return parse


def _origins(name, value):
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigError(f"{name} must list origins like https://app.example.com, got {origin!r}")
    return origins


def _registrable(name, value):
    """A domain a cookie may be set for: a host name that is not a public suffix (``com``,
    ``co.uk``, ``github.io``: browsers drop cookies set for those), so the cookie is shared by
    the sibling hosts under it and no others."""
    domain = value.strip().lower().removeprefix(".")
    if not domain:
        return ""
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", domain) \
            or re.fullmatch(r"[0-9.]+", domain):
        raise ConfigError(f"{name} must be a domain name like example.com, got {value!r}")
    from publicsuffixlist import PublicSuffixList
    if PublicSuffixList().privatesuffix(domain) is None:
        raise ConfigError(f"{name} is a public suffix ({domain}): browsers refuse cookies for it; "
                          "name your own domain, like example.com")
    return domain


def _within(domain, public_url):
    host = (urlsplit(public_url).hostname or "").lower()
    if host != domain and not host.endswith("." + domain):
        raise ConfigError(f"LMS_COOKIE_DOMAIN={domain} does not contain LMS_PUBLIC_URL's host {host}: "
                          "browsers would refuse the cookies")


def _secret_key(name, value):
    if value and len(value) < 32:
        raise ConfigError(f"{name} must be at least 32 characters")
    return value


def _prefix(name, value):
    if not re.fullmatch(r"[A-Z0-9]{1,10}", value):
        raise ConfigError(f"{name} must be 1 to 10 characters A-Z or 0-9, got {value!r}")
    return value


def _email(name, value):
    if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ConfigError(f"{name} is not an e-mail address")
    return value.lower()


_PARSERS = {
    "env": _choice("development", "production"),
    "port": _number(int, 1, 65535),
    "data_dir": lambda name, value: Path(value).expanduser().resolve(),
    "mongodb_uri": lambda name, value: _url("mongodb", "mongodb+srv")(name, value),
    "db_wait": _number(float, 0, 3600),
    "secret_key": _secret_key,
    "public_url": _url("http", "https"),
    "frontend_url": _url("http", "https"),
    "cors_origins": _origins,
    "cookie_secure": _bool,
    "cookie_samesite": _choice("Lax", "Strict", "None"),
    "cookie_domain": _registrable,
    "email_verification": _choice("off", "optional", "required"),
    "trust_proxy": _bool,
    "max_body_bytes": _number(int, 1024, 1024 ** 3),
    "header_timeout": _number(float, 0.1, 3600),
    "body_timeout": _number(float, 0.1, 3600),
    "keepalive_timeout": _number(float, 0.1, 3600),
    "max_connections": _number(int, 1, 1_000_000),
    "cache_bytes": _number(int, 0, 1024 ** 4),
    "bcrypt_rounds": _number(int, 4, 31),
    "worker": _bool,
    "worker_concurrency": _number(int, 1, 32),
    "cert_prefix": _prefix,
    "bootstrap_admin_email": _email,
    "allow_simulated_payments": _bool,
    "cloudinary_url": _url("cloudinary"),
    "s3_url": _url("s3"),
    "storage_retry_hours": _number(float, 0, 24 * 30),
    "razorpay_api_url": _url("http", "https", optional=False),
    "razorpay_webhook_secrets": lambda name, value: tuple(v.strip() for v in value.split(",") if v.strip()),
    "razorpay_auto_capture": _bool,
    "razorpay_order_ttl": _number(int, 60, 30 * 86400),
    "razorpay_reconcile_days": _number(int, 1, 365),
    "smtp_url": _url("smtp", "smtps"),
    "sentry_dsn": _url("http", "https"),
    "log_level": _choice("DEBUG", "INFO", "WARNING", "ERROR"),
    "signing_key": lambda name, value: _pem(name, value, private=True),
    "retired_signing_keys": lambda name, value: _pem(name, value, private=False),
    "org_name": lambda name, value: _bounded(name, value, 1, 100),
    "org_address": lambda name, value: _bounded(name, value.replace("\\n", "\n"), 0, 300),
    "linkedin_org_id": lambda name, value: value if not value or value.isdigit() else _fail(
        f"{name} must be the numeric LinkedIn organisation id"),
}


def _fail(message):
    raise ConfigError(message)


def _bounded(name, value, lo, hi):
    if not lo <= len(value) <= hi:
        raise ConfigError(f"{name} must be {lo} to {hi} characters")
    return value


def _pem(name, value, private):
    """PEM text (``\\n`` escapes allowed, for one-line environments), checked to hold Ed25519 keys."""
    value = value.replace("\\n", "\n").strip()
    if not value:
        return ""
    from .certificates.badges import parse_keys
    try:
        parse_keys(value, private=private)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return value


def _all_or_none(raw, *names):
    given = [n for n in names if raw[n]]
    if given and len(given) != len(names):
        missing = [n for n in names if not raw[n]]
        raise ConfigError(f"{' and '.join(given)} is set but {' and '.join(missing)} is not")


def _new_signing_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def _load_or_create(path, make):
    """Read a development secret from the data dir, creating it (mode 0600) the first time."""
    try:
        value = path.read_text().strip()
        if len(value) >= 32:
            return value
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temporary file, then link it into place: link() fails if another
    # process won the race, and then its value (already complete) is the one to use.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(make())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
