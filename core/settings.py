"""Settings read from the environment (and an optional .env file).

Every variable is documented in docs/configuration.md. The same code runs in
development, tests and production; only these values differ.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from core.money import ROUNDING_RULES

#: Secret keys that must never reach production.
_DEFAULT_SECRETS = {"", "dev", "change-me", "changeme", "secret", "development"}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the variable."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a yes/no variable."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    """Read a whole-number variable."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """Read a whole number of at least one."""
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def _decimal(env: Mapping[str, str], name: str, default: str) -> Decimal:
    """Read a positive decimal variable."""
    raw = env.get(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {raw!r}")
    return value


def _state(env: Mapping[str, str]) -> str:
    """The town's US state by postal code (its legal holidays are closed days), or ''."""
    state = env.get("MUNICIPALITY_STATE", "").strip().upper()
    if state and state not in holidays.country_holidays("US").subdivisions:
        raise ConfigError(
            f"MUNICIPALITY_STATE {state!r} is not a US state code (such as WI, TX or CA)"
        )
    return state


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _replica_url(env: Mapping[str, str], database_url: str) -> str:
    """DATABASE_REPLICA_URL, normalized; a replica of PostgreSQL only, and only of PostgreSQL."""
    url = normalize_database_url(env.get("DATABASE_REPLICA_URL", "").strip())
    if not url:
        return ""
    if not url.startswith("postgresql"):
        raise ConfigError("DATABASE_REPLICA_URL must point at a PostgreSQL streaming replica")
    if not database_url.startswith("postgresql"):
        raise ConfigError("DATABASE_REPLICA_URL needs DATABASE_URL to point at PostgreSQL")
    return url


def _development_secret(instance_path: Path) -> str:
    """Generate a random key once and keep it under instance/."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(env: Mapping[str, str], instance_path: Path) -> dict:
    """Build the Flask config from environment variables; raise ConfigError if wrong."""
    environment = env.get("MUNIBILL_ENV", "development")
    if environment not in {"development", "production", "test"}:
        raise ConfigError(
            f"MUNIBILL_ENV must be development, production or test, not {environment!r}"
        )
    production = environment == "production"

    secret = env.get("SECRET_KEY", "")
    if production and (secret.lower() in _DEFAULT_SECRETS or len(secret) < 32):
        raise ConfigError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production"
        )
    if not secret:
        secret = _development_secret(instance_path)

    access_code_key = env.get("ACCESS_CODE_KEY", "")
    if production and len(access_code_key) < 32:
        raise ConfigError(
            "ACCESS_CODE_KEY must be set to a random value of at least 32 characters in production"
        )
    if not access_code_key:
        access_code_key = hmac.new(
            secret.encode(), b"munibill access codes", hashlib.sha256
        ).hexdigest()

    default_db = f"sqlite:///{instance_path / 'munibill.db'}"
    database_url = normalize_database_url(env.get("DATABASE_URL") or default_db)
    if production and database_url.startswith("sqlite"):
        raise ConfigError("DATABASE_URL must point at PostgreSQL in production, not SQLite")

    replica_url = _replica_url(env, database_url)

    timezone = env.get("MUNICIPALITY_TIMEZONE", "America/Chicago")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"MUNICIPALITY_TIMEZONE {timezone!r} is not a known time zone") from None
    state = _state(env)
    rounding = env.get("ROUNDING_RULE", "half_up")
    if rounding not in ROUNDING_RULES:
        raise ConfigError(
            f"ROUNDING_RULE must be one of {', '.join(ROUNDING_RULES)}, not {rounding!r}"
        )
    currency = env.get("CURRENCY", "usd").lower()
    if currency != "usd":
        raise ConfigError(f"CURRENCY {currency!r} is not supported; munibill bills in usd")

    public_url = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    secure_cookies = _bool(env, "SECURE_COOKIES", production or public_url.startswith("https://"))
    smtp_port = _int(env, "SMTP_PORT", 587)

    return {
        "MUNIBILL_ENV": environment,
        "SECRET_KEY": secret,
        "ACCESS_CODE_KEY": access_code_key.encode(),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A streaming replica for read-only work (exports, dashboard); empty = none.
        "DATABASE_REPLICA_URL": replica_url,
        # NOTE: hide_parameters keeps what people typed (messages, addresses) out of the
        # text of database errors, and so out of the error log.
        # pool_use_lifo (PostgreSQL): a request takes back the connection used last, whose
        # statements psycopg has prepared (core/read_only_end.py), not the longest idle one.
        # (An in-memory SQLite database has a pool without that setting.)
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "hide_parameters": True,
            **({"pool_use_lifo": True} if database_url.startswith("postgresql") else {}),
        },
        "PUBLIC_BASE_URL": public_url,
        # Stripe: localstripe and api.stripe.com differ only in these.
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", "https://api.stripe.com"),
        "STRIPE_JS_URL": env.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        # E-mail: with no SMTP_HOST, messages go to instance/outbox as .eml files.
        "SMTP_HOST": env.get("SMTP_HOST", ""),
        "SMTP_PORT": smtp_port,
        "SMTP_USER": env.get("SMTP_USER", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool(env, "SMTP_STARTTLS", smtp_port == 587),
        "MAIL_FROM": env.get("MAIL_FROM", "billing@example.org"),
        "OUTBOX_DIR": env.get("OUTBOX_DIR") or str(instance_path / "outbox"),
        # The municipality.
        "MUNICIPALITY_NAME": env.get("MUNICIPALITY_NAME", "City of Maple Falls"),
        "MUNICIPALITY_ADDRESS": env.get(
            "MUNICIPALITY_ADDRESS", "100 Main Street, Maple Falls, WI 54901"
        ),
        "MUNICIPALITY_PHONE": env.get("MUNICIPALITY_PHONE", "(920) 555-0100"),
        "MUNICIPALITY_WEBSITE": env.get("MUNICIPALITY_WEBSITE", public_url),
        "MUNICIPALITY_TIMEZONE": timezone,
        "MUNICIPALITY_STATE": state,
        "CURRENCY": currency,
        "ROUNDING_RULE": rounding,
        "UTILITY_DUE_DAYS": _int(env, "UTILITY_DUE_DAYS", 21),
        "USAGE_SPIKE_MULTIPLE": _decimal(env, "USAGE_SPIKE_MULTIPLE", "3"),
        "BILLING_BATCH_SIZE": _int(env, "BILLING_BATCH_SIZE", 1000),
        "WEBHOOK_BATCH_SIZE": _int(env, "WEBHOOK_BATCH_SIZE", 200),
        # The scheduler.
        "PAYMENT_STALE_MINUTES": _int(env, "PAYMENT_STALE_MINUTES", 30),
        "PAYMENT_ABANDON_HOURS": _int(env, "PAYMENT_ABANDON_HOURS", 24),
        "OPERATIONS_EMAIL": env.get("OPERATIONS_EMAIL", ""),
        "SCHEDULER_LEASE_SECONDS": _int(env, "SCHEDULER_LEASE_SECONDS", 30),
        "SCHEDULED_BILLING_RUNS": _bool(env, "SCHEDULED_BILLING_RUNS", False),
        # Reminder stages: name, days from the due date (negative: before it), notice kind.
        "REMINDER_STAGES": env.get(
            "REMINDER_STAGES",
            "upcoming:-7:reminder,due:0:reminder,past_due:10:past_due,final:30:final",
        ),
        # Notices.
        "NOTICES_DIR": env.get("NOTICES_DIR") or str(instance_path / "notices"),
        "MUNICIPALITY_LOGO": env.get("MUNICIPALITY_LOGO", ""),
        # Processes rendering a print batch's bills (1: the batch's own process alone).
        "PRINT_WORKERS": _positive_int(env, "PRINT_WORKERS", _cores()),
        "FINAL_NOTICE_DAYS": _int(env, "FINAL_NOTICE_DAYS", 14),
        "REMINDER_PAY_DAYS": _int(env, "REMINDER_PAY_DAYS", 10),
        "FINAL_NOTICE_UTILITY": {
            "en": env.get(
                "FINAL_NOTICE_UTILITY_EN",
                "Service at this address will be disconnected on or after the date above "
                "unless the amount due is paid. Call us if you cannot pay in full: "
                "payment arrangements are available.",
            ),
            "es": env.get(
                "FINAL_NOTICE_UTILITY_ES",
                "El servicio en esta dirección se desconectará a partir de la fecha indicada "
                "si no se paga el importe adeudado. Llámenos si no puede pagar el total: "
                "ofrecemos planes de pago.",
            ),
        },
        "FINAL_NOTICE_TAX": {
            "en": env.get(
                "FINAL_NOTICE_TAX_EN",
                "These taxes are delinquent. If they are not paid by the date above, they will be "
                "reported to the county treasurer, interest and penalties will continue to accrue, "
                "and a tax lien may be placed on the property.",
            ),
            "es": env.get(
                "FINAL_NOTICE_TAX_ES",
                "Estos impuestos están en mora. Si no se pagan antes de la fecha indicada, se "
                "informará al tesorero del condado, seguirán acumulándose intereses y recargos, "
                "y podrá imponerse un gravamen fiscal sobre la propiedad.",
            ),
        },
        # Sign-in and sessions.
        "LOGIN_MAX_FAILURES": _int(env, "LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_MINUTES": _int(env, "LOGIN_LOCKOUT_MINUTES", 15),
        "SESSION_COOKIE_SECURE": secure_cookies,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "munibill_session",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_positive_int(env, "STAFF_SESSION_HOURS", 8)),
        # A staff session ends this long after sign-in however busy, or this long unused.
        "STAFF_SESSION_HOURS": _positive_int(env, "STAFF_SESSION_HOURS", 8),
        "STAFF_IDLE_MINUTES": _positive_int(env, "STAFF_IDLE_MINUTES", 30),
        "WTF_CSRF_TIME_LIMIT": None,
        # Request bodies (bytes): the app's limit, the uploads' (a 20 MB readings file and its
        # form around it) and Stripe's webhooks' (an event is a few kilobytes). Over it: 413.
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        "UPLOAD_MAX_CONTENT_LENGTH": _int(env, "UPLOAD_MAX_CONTENT_LENGTH", 21 * 1024 * 1024),
        "WEBHOOK_MAX_CONTENT_LENGTH": _int(env, "WEBHOOK_MAX_CONTENT_LENGTH", 256 * 1024),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        # Proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
        "TRUSTED_PROXY_HOPS": _int(env, "TRUSTED_PROXY_HOPS", 0),
        "RATELIMIT_HEADERS_ENABLED": True,
        "PREFERRED_URL_SCHEME": "https" if secure_cookies else "http",
        # The residents' portal.
        "PORTAL_IDLE_MINUTES": _int(env, "PORTAL_IDLE_MINUTES", 15),
        "QUICKPAY_ZIP_FALLBACK": _bool(env, "QUICKPAY_ZIP_FALLBACK", False),
        "QUICKPAY_LIMIT": env.get("QUICKPAY_LIMIT", "5 per 15 minutes"),
        # Days after its conversion that quick pay accepts an account's former number (0: never).
        "CONVERSION_FORMER_NUMBER_DAYS": _int(env, "CONVERSION_FORMER_NUMBER_DAYS", 365),
        # Reset and confirmation links asked for per e-mail address typed (any client).
        "ADDRESS_MAIL_LIMIT": env.get("ADDRESS_MAIL_LIMIT", "3 per hour"),
        "PORTAL_HISTORY_MONTHS": _int(env, "PORTAL_HISTORY_MONTHS", 24),
        "AUTOPAY_ENABLED": _bool(env, "AUTOPAY_ENABLED", True),
        # The reconciliation queue: the most a supervisor may write off when Stripe took less.
        "RECONCILIATION_WRITE_OFF_LIMIT_CENTS": _int(
            env, "RECONCILIATION_WRITE_OFF_LIMIT_CENTS", 500
        ),
        # A drawer counted over or short by more than this waits for a supervisor's approval.
        "DRAWER_OVER_SHORT_APPROVAL_CENTS": _int(env, "DRAWER_OVER_SHORT_APPROVAL_CENTS", 2000),
        # Bank statement debits posted as bank fees without a clerk: BAI2 type codes, and the
        # largest such fee (docs/bank-statements.md).
        "BANK_FEE_TYPE_CODES": tuple(
            code.strip()
            for code in env.get("BANK_FEE_TYPE_CODES", "698").split(",")
            if code.strip()
        ),
        "BANK_FEE_MAX_CENTS": _int(env, "BANK_FEE_MAX_CENTS", 25000),
        # A lockbox or bill-pay file's import also makes its bank deposit (1040 to 1050): the
        # bank deposited the money itself on the file's deposit date (docs/bank-deposits.md).
        "LOCKBOX_DEPOSIT_ON_IMPORT": _bool(env, "LOCKBOX_DEPOSIT_ON_IMPORT", True),
        "BABEL_DEFAULT_LOCALE": "en",
        **_texts(env),
    }


def _quiet_hours(env: Mapping[str, str]) -> tuple[int, int]:
    """TEXT_QUIET_HOURS "21:00-08:00": the minutes of the town's day when texting stops and
    resumes."""
    raw = env.get("TEXT_QUIET_HOURS") or "21:00-08:00"
    try:
        start, end = (part.strip() for part in raw.split("-"))
        minutes = []
        for part in (start, end):
            hours, mins = part.split(":")
            if not (0 <= int(hours) < 24 and 0 <= int(mins) < 60 and len(mins) == 2):
                raise ValueError
            minutes.append(int(hours) * 60 + int(mins))
    except ValueError:
        raise ConfigError(
            f"TEXT_QUIET_HOURS must be two times of day such as 21:00-08:00, not {raw!r}"
        ) from None
    if minutes[0] == minutes[1]:
        raise ConfigError("TEXT_QUIET_HOURS must start and end at different times")
    return minutes[0], minutes[1]


def _texts(env: Mapping[str, str]) -> dict:
    """Text messages through Twilio (docs/texts.md): off unless TEXTS_ENABLED, and then the
    account, its token and a sender are required."""
    enabled = _bool(env, "TEXTS_ENABLED", False)
    settings = {
        "TEXTS_ENABLED": enabled,
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_API_BASE": env.get("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
        "TEXT_QUIET_HOURS": _quiet_hours(env),
    }
    if enabled:
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not settings[name]:
                raise ConfigError(f"{name} must be set when TEXTS_ENABLED is on")
        if not (settings["TWILIO_MESSAGING_SERVICE_SID"] or settings["TWILIO_FROM_NUMBER"]):
            raise ConfigError(
                "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER must be set when "
                "TEXTS_ENABLED is on"
            )
    return settings
