"""Locale selection and helpers for bilingual catalogue fields."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, session
from flask_babel import get_locale
from flask_login import current_user

DEFAULT_LOCALE = "zh_CN"


def select_locale() -> str:
    """The signed-in user's language, else the one chosen with the switch, else Chinese."""
    languages = current_app.config["LANGUAGES"]
    if has_request_context():
        if current_user.is_authenticated and current_user.locale in languages:
            return current_user.locale
        chosen = session.get("locale")
        if chosen in languages:
            return chosen
    return DEFAULT_LOCALE


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def is_english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


def localized(obj: Any, field: str) -> str:
    """``obj.<field>_en`` in English (when filled in), otherwise ``obj.<field>_zh``."""
    if is_english():
        english = getattr(obj, f"{field}_en", "")
        if english:
            return english
    return getattr(obj, f"{field}_zh")
