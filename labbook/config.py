"""Configuration from environment variables.

``LABBOOK_ENV=development`` relaxes the SECRET_KEY requirement (a key is generated once and kept in
``instance/``); every other environment must set ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = Path(os.environ.get("LABBOOK_INSTANCE_PATH", PROJECT_ROOT / "instance"))


class ConfigurationError(RuntimeError):
    """The deployment is missing something it needs to start."""


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _database_url(value: str | None) -> str:
    if not value:
        return _sqlite_url(INSTANCE_PATH / "labbook.sqlite")
    # Heroku-style URLs and bare "postgresql://" both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix):]
    return value


def _development_secret_key() -> str:
    key_file = INSTANCE_PATH / "secret_key"
    if not key_file.exists():
        INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


class Config:
    ENV_NAME = os.environ.get("LABBOOK_ENV", "production")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url(os.environ.get("LABBOOK_DATABASE_URL"))
    # PostgreSQL: a pooled connection the server has dropped (a restart) is replaced before use
    # (labbook.core.engine.check_pooled_connections). Off in tests that show the 503 instead.
    LABBOOK_CHECK_POOLED_CONNECTIONS = True
    # Where links in emails, feeds and QR codes point; unset, the address served (labbook.links).
    LABBOOK_BASE_URL = os.environ.get("LABBOOK_BASE_URL", "")
    LABBOOK_SMTP_URL = os.environ.get("LABBOOK_SMTP_URL")
    LABBOOK_MAIL_FROM = os.environ.get("LABBOOK_MAIL_FROM", "labbook@jzit.example.cn")
    # A CA bundle for a mail server whose certificate a private CA signed.
    LABBOOK_SMTP_CA_FILE = os.environ.get("LABBOOK_SMTP_CA_FILE")
    # Without LABBOOK_SMTP_URL, mail is written here as .eml files instead of being sent.
    LABBOOK_MAIL_DIR = os.environ.get("LABBOOK_MAIL_DIR") or str(INSTANCE_PATH / "outbox")
    # SMS: off unless a provider is named ("directory" writes each message to LABBOOK_SMS_DIR
    # instead of sending it; labbook.notify.channels.SMS_PROVIDERS lists the providers).
    LABBOOK_SMS_PROVIDER = os.environ.get("LABBOOK_SMS_PROVIDER", "")
    LABBOOK_SMS_DIR = os.environ.get("LABBOOK_SMS_DIR") or str(INSTANCE_PATH / "sms")
    # SQLite only: a scheduler that stops renewing its lease this long is taken over.
    LABBOOK_SCHEDULER_LEASE_SECONDS = os.environ.get("LABBOOK_SCHEDULER_LEASE_SECONDS", "15")
    # Domain that makes iCal UIDs globally unique; must never change once feeds are published.
    LABBOOK_UID_DOMAIN = os.environ.get("LABBOOK_UID_DOMAIN", "labbook.jzit.example.cn")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "labbook" / "translations")
    LANGUAGES = ("zh_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    # Testing-service reports (PDF): where they are kept and how large one may be.
    LABBOOK_REPORT_DIR = os.environ.get("LABBOOK_REPORT_DIR") or str(INSTANCE_PATH / "reports")
    LABBOOK_REPORT_MAX_BYTES = 20 * 1024 * 1024
    # The purchase value (yuan) from which an instrument is large, for the open-sharing
    # statistics the science authorities ask for.
    LABBOOK_LARGE_INSTRUMENT_VALUE = os.environ.get("LABBOOK_LARGE_INSTRUMENT_VALUE",
                                                    "500000.00")
    # The payee printed on statements (收款单位, 开户行, 账号, 税号): where customers pay.
    LABBOOK_PAYEE_NAME = os.environ.get("LABBOOK_PAYEE_NAME", "焦作市产业技术科学院")
    LABBOOK_PAYEE_BANK = os.environ.get("LABBOOK_PAYEE_BANK", "")
    LABBOOK_PAYEE_ACCOUNT = os.environ.get("LABBOOK_PAYEE_ACCOUNT", "")
    LABBOOK_PAYEE_TAX_ID = os.environ.get("LABBOOK_PAYEE_TAX_ID", "")
    # Testing orders: the issued report PDFs and the files kept with each order.
    LABBOOK_ORDER_FILES_DIR = os.environ.get("LABBOOK_ORDER_FILES_DIR") or str(
        INSTANCE_PATH / "orders")
    LABBOOK_ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
    LABBOOK_RATELIMIT_VERIFY = "30 per minute;300 per hour"
    API_MAX_PER_PAGE = 200
    UI_PER_PAGE = 25
    JSON_SORT_KEYS = False
    # Rate limits (Flask-Limiter). Memory storage counts per process; with several workers the
    # counts must be shared, hence Redis in production.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = os.environ.get("LABBOOK_RATELIMIT_STORAGE_URL") or "memory://"
    RATELIMIT_STRATEGY = "moving-window"
    # Tells apart the counts of several labbook sites (e.g. staging) sharing one Redis.
    RATELIMIT_KEY_PREFIX = os.environ.get("LABBOOK_RATELIMIT_KEY_PREFIX") or "labbook"
    # A Redis outage must not lock everybody out: limits then count per process until it is back.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    #: Sign-in attempts per client address (a whole enterprise may share one address).
    LABBOOK_RATELIMIT_LOGIN = "30 per minute;300 per hour"
    #: Failed sign-ins per account before it is locked until the oldest failure ages out.
    LABBOOK_LOGIN_LOCKOUT = "5 per 15 minutes"
    #: Password-reset requests and new-password submissions per client address.
    LABBOOK_RATELIMIT_PASSWORD_RESET = "10 per hour"  # noqa: S105  (a limit, not a secret)
    #: Reset emails per address, so the form cannot be used to flood somebody's mailbox.
    LABBOOK_RATELIMIT_RESET_EMAIL = "3 per hour"
    #: Registrations of enterprises, requests to join one and invitations accepted, per client
    #: address: each sends an email, so the forms must not be a way to flood mailboxes.
    LABBOOK_RATELIMIT_REGISTRATION = "10 per hour"
    #: Requests per iCal feed link: plenty for clients polling every few minutes.
    LABBOOK_RATELIMIT_FEED = "60 per 10 minutes"
    #: Requests per API token (or address, without one); empty: no limit.
    LABBOOK_RATELIMIT_API = os.environ.get("LABBOOK_RATELIMIT_API", "")
    #: How long a password-reset link works.
    LABBOOK_PASSWORD_RESET_MAX_AGE = 3600
    LABBOOK_LOG_FORMAT = os.environ.get("LABBOOK_LOG_FORMAT", "text")
    #: Reverse proxies in front of labbook whose X-Forwarded-For/-Proto may be believed.
    LABBOOK_TRUSTED_PROXIES = os.environ.get("LABBOOK_TRUSTED_PROXIES", "0")

    @classmethod
    def finalize(cls, settings: dict) -> None:
        """Fill in derived values and refuse to start with an unsafe configuration."""
        if not settings.get("SECRET_KEY"):
            if settings.get("ENV_NAME") == "development" or settings.get("TESTING"):
                settings["SECRET_KEY"] = _development_secret_key()
            else:
                raise ConfigurationError(
                    "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long "
                    "random string (python3 -c 'import secrets; print(secrets.token_hex(32))'), "
                    "or LABBOOK_ENV=development for a local development server."
                )
        if settings["LABBOOK_BASE_URL"].startswith("https://"):
            # Set, not defaulted: Flask's own defaults already hold SESSION_COOKIE_SECURE=False.
            settings["SESSION_COOKIE_SECURE"] = True
            settings["REMEMBER_COOKIE_SECURE"] = True
        if settings.get("LABBOOK_LOG_FORMAT", "text") not in ("json", "text"):
            raise ConfigurationError("LABBOOK_LOG_FORMAT must be json or text.")
        proxies = str(settings.get("LABBOOK_TRUSTED_PROXIES", 0))
        if not proxies.isdigit():
            raise ConfigurationError("LABBOOK_TRUSTED_PROXIES must be a whole number, the count "
                                     "of reverse proxies in front of labbook (e.g. 1 for nginx).")
        settings["LABBOOK_TRUSTED_PROXIES"] = int(proxies)
        if settings.get("RATELIMIT_STORAGE_URI", "").startswith(("redis://", "rediss://")):
            # An unreachable Redis must fail fast (and fall back to memory), not hang requests.
            settings.setdefault("RATELIMIT_STORAGE_OPTIONS",
                                {"socket_connect_timeout": 2, "socket_timeout": 2})


class TestingConfig(Config):
    TESTING = True
    ENV_NAME = "testing"
    SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105
    WTF_CSRF_ENABLED = False
    LABBOOK_CHECK_POOLED_CONNECTIONS = False
