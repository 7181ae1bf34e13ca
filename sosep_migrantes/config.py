"""Settings read from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def _instance_secret(instance_path: Path) -> str:
    """A per-installation secret kept in ``instance/secret_key`` so sessions survive restarts."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'sosep.sqlite3'}"
    # Heroku-style URLs and plain postgresql:// go through psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings from the environment, then ``overrides`` (what ``create_app(config)`` was given).

    ``instance/secret_key`` is read, or written, only when neither supplies a ``SECRET_KEY``: a test or a
    deployment that sets one leaves the instance folder alone.
    """
    overrides = overrides or {}
    config = _settings(instance_path) | overrides
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)
    return config


def _settings(instance_path: Path) -> dict[str, Any]:
    env = os.environ
    return {
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        # hide_parameters: SQL errors must not carry names or CUIs into the logs.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Server-side sessions (auth.sessions): ended after this long without a request, and this long
        # after sign-in whatever the use; the cookie itself lives no longer than the second.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": int(env.get("SESSION_ABSOLUTE_HOURS", "10")),
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_ABSOLUTE_HOURS", "10")) * 3600,
        # The cookie is set when the session changes (sign-in, a search kept, the language), not signed
        # again on every answer: its lifetime is the absolute limit counted from the sign-in, which a
        # refresh would only push past the server's own end of the session.
        "SESSION_REFRESH_EACH_REQUEST": False,
        #: Roles that must sign in with a second factor (time-based codes); any user may turn it on.
        "SECOND_FACTOR_ROLES": tuple(
            r.strip() for r in env.get("SECOND_FACTOR_ROLES", "admin,coordinator").split(",") if r.strip()
        ),
        # Sign-in throttle (auth.throttle): after this many failures in the window, each further attempt
        # for the account waits twice as long as the last, up to the maximum (a delay, never a lock-out).
        "LOGIN_FREE_ATTEMPTS": int(env.get("LOGIN_FREE_ATTEMPTS", "5")),
        "LOGIN_MAX_DELAY_SECONDS": int(env.get("LOGIN_MAX_DELAY_SECONDS", "60")),
        "BABEL_DEFAULT_LOCALE": "es_GT",
        "BABEL_DEFAULT_TIMEZONE": "America/Guatemala",
        "LANGUAGES": {"es_GT": "Español", "en": "English"},
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        #: Prefix of the rate-limit keys, for installations (production, training) that share one Redis.
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", ""),
        "RATELIMIT_ENABLED": env.get("RATELIMIT_ENABLED", "1") == "1",
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        #: Number of reverse proxies in front of the app (X-Forwarded-For hops to trust); 0 = none.
        "PROXY_COUNT": int(env.get("PROXY_COUNT", "0")),
        "CASES_PER_PAGE": 25,
        #: A list counts its matches up to this many, then says "more than" (counting a national list
        #: on every page cost more than showing it).
        "CASES_COUNT_CAP": 500,
        "WTF_CSRF_TIME_LIMIT": None,
        #: The largest request body (forms; no upload yet): a bigger one is refused (413) unread.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        # Follow-up (followup.rules): days after arrival the first contact falls due, fewer for urgent
        # referrals and protection cases; days after a contact when it set no next date; not-located
        # attempts before a case may be closed as not located.
        "FOLLOWUP_FIRST_CONTACT_DAYS": int(env.get("FOLLOWUP_FIRST_CONTACT_DAYS", "15")),
        "FOLLOWUP_URGENT_FIRST_CONTACT_DAYS": int(env.get("FOLLOWUP_URGENT_FIRST_CONTACT_DAYS", "3")),
        "FOLLOWUP_NEXT_CONTACT_DAYS": int(env.get("FOLLOWUP_NEXT_CONTACT_DAYS", "30")),
        "FOLLOWUP_NOT_LOCATED_ATTEMPTS": int(env.get("FOLLOWUP_NOT_LOCATED_ATTEMPTS", "3")),
        # The JSON API (issue #12): its prefix, the OpenAPI document (flask-smorest) and its limits.
        "API_PREFIX": "/api/v1",
        "API_TITLE": "SOSEP Migrantes API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_PAGE_SIZE": 25,
        "API_MAX_PAGE_SIZE": 100,
        #: Requests per token (or address) and minute through the API.
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT", "600 per minute"),
        #: Years a closed case keeps its personal data: ``flask retention anonymise`` then anonymises it.
        "RETENTION_YEARS": int(env.get("RETENTION_YEARS", "5")),
    }
