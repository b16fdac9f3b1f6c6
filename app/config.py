"""Settings: defaults, then environment variables, then ``test_config``.

Every setting is documented in the README (a test checks it).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click
from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_root() -> Path:
    """Where templates/, static/, content/ and seed/ live.

    In a checkout they sit at the repository root beside app/ (the design card's layout); a
    non-editable install ships them inside the package as ``app/bundle/`` (pyproject.toml).
    """
    installed = PACKAGE_DIR / "bundle"
    return installed if (installed / "templates").is_dir() else PACKAGE_DIR.parent


ASSET_ROOT = _asset_root()
TEMPLATE_DIR = ASSET_ROOT / "templates"
STATIC_DIR = ASSET_ROOT / "static"
BUNDLED_CONTENT = ASSET_ROOT / "content"
SEED_HISTORY = ASSET_ROOT / "seed" / "history.yml"
_WEAK_KEYS = {"", "dev", "change-me", "changeme", "secret"}

# name -> (default, help).  Environment variables with the same name override defaults.
SETTINGS: dict[str, tuple[object, str]] = {
    "KB_DATA_DIR": (None, "users db, search index, caches (default: instance/)"),
    "KB_CONTENT_DIR": (None, "the content git work tree (default: KB_DATA_DIR/content)"),
    "SECRET_KEY": (None, "signs sessions and CSRF tokens; read from KB_DATA_DIR/secret_key "
                         "when unset"),
    "KB_SECURE_COOKIES": (False, "mark cookies Secure and send HSTS (set behind HTTPS)"),
    "KB_RATELIMIT_STORAGE": ("sqlite://", "Flask-Limiter storage URI; sqlite:// is a file in "
                                          "KB_DATA_DIR shared by all workers"),
    "KB_PROXY_FIX": ("0", "number of reverse proxies whose X-Forwarded-* headers to trust"),
    "KB_BACKUP_DIR": (None, "where `kb backup` writes (default: KB_DATA_DIR/backups)"),
    "KB_LOGIN_LIMIT": ("5 per minute;30 per hour", "login attempts per username + IP"),
    "KB_LOGIN_ADDRESS_LIMIT": ("30 per 10 minutes", "failed sign-ins per address, whatever "
                                                    "the username"),
    "KB_FEEDBACK_LIMIT": ("10 per hour", "feedback submissions per address"),
    "KB_SEARCH_LIMIT": ("120 per minute", "anonymous searches (page, API, clicks) per address"),
    "KB_ANALYTICS_RETENTION_DAYS": (400, "search analytics rows older than this are deleted"),
    "KB_PUBLIC_MAX_AGE": (60, "seconds browsers and proxies may keep an anonymous page"),
    "KB_REVIEW_INTERVAL_MONTHS": (12, "months after a material change when a review falls due"),
    "KB_SITE_NAME": ("Northwind Help Centre", "name shown in the header and titles"),
    "KB_SMTP_URL": ("", "smtp://host:port (or smtp+starttls://user:pass@host:port): e-mail "
                        "approvers and authors about proposals; unset = in-app notices only"),
    "KB_MAIL_FROM": ("portal@localhost", "sender address of proposal e-mail"),
    "KB_MAIL_DOMAIN": ("localhost", "mail domain added to user names that are not addresses"),
    "KB_BASE_URL": ("", "the site's address (https://help.example.com) for links in e-mail"),
}


class ConfigError(RuntimeError):
    pass


def _env_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load(app: Flask, test_config: dict | None) -> None:
    for name, (default, _help) in SETTINGS.items():
        app.config.setdefault(name, default)
    for name, (default, _help) in SETTINGS.items():
        if name in os.environ:
            raw = os.environ[name]
            if isinstance(default, bool):
                app.config[name] = _env_bool(raw)
            elif isinstance(default, int):
                app.config[name] = int(raw)
            else:
                app.config[name] = raw
    if test_config:
        app.config.update(test_config)

    data_dir = Path(app.config["KB_DATA_DIR"] or app.instance_path).resolve()
    app.config["KB_DATA_DIR"] = str(data_dir)
    app.config["KB_CONTENT_DIR"] = str(Path(app.config["KB_CONTENT_DIR"]
                                            or data_dir / "content").resolve())
    app.config.setdefault("DATABASE", str(data_dir / "portal.sqlite3"))
    data_dir.mkdir(parents=True, exist_ok=True)

    secure = bool(app.config["KB_SECURE_COOKIES"])
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=12 * 3600,  # one working shift
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    _load_secret_key(app, data_dir)


def secret_key_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "secret_key"


def generate_secret_key(data_dir: str | Path) -> bool:
    """Write a random key into the data dir unless one is there; True when written."""
    path = secret_key_path(data_dir)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return True


def _load_secret_key(app: Flask, data_dir: Path) -> None:
    key = app.config.get("SECRET_KEY")
    if not key:
        path = secret_key_path(data_dir)
        if path.is_file():
            key = path.read_text().strip()
    if not key or key in _WEAK_KEYS:
        if app.debug or app.testing or is_maintenance_command():
            # Tests, debug and one-off CLI commands serve no sessions: a throwaway key is safe.
            key = key or secrets.token_hex(32)
        else:
            raise ConfigError(
                "SECRET_KEY is not set. Set the SECRET_KEY environment variable or run "
                "'flask --app wsgi kb init' to generate one into the data directory.")
    app.config["SECRET_KEY"] = key


def is_maintenance_command() -> bool:
    """True inside ``flask <command>`` other than ``flask run`` (e.g. ``kb init``)."""
    if click.get_current_context(silent=True) is None:
        return False
    return "run" not in sys.argv[1:]
