"""Locale selection and helpers for bilingual catalogue fields."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.datastructures import LanguageAccept

DEFAULT_LOCALE = "zh_CN"


def select_locale() -> str:
    """The language of the answer.

    An API request gets the language its ``Accept-Language`` asks for, when labbook speaks it;
    else the token owner's language. A page gets the signed-in user's language, else the one
    chosen with the switch: a browser's ``Accept-Language`` is not a choice made in labbook.
    Otherwise Chinese.
    """
    languages = current_app.config["LANGUAGES"]
    if has_request_context():
        if request.path.startswith("/api/"):
            asked = _asked_language(languages)
            if asked is not None:
                return asked
            # Set once the bearer token is read (labbook.api.auth.api_user).
            owner = g.get("api_user")
            if owner is not None and owner.locale in languages:
                return owner.locale
        if current_user.is_authenticated and current_user.locale in languages:
            return current_user.locale
        chosen = session.get("locale")
        if chosen in languages:
            return chosen
    return DEFAULT_LOCALE


def _asked_language(languages: tuple[str, ...]) -> str | None:
    """The best of ``languages`` for the request's ``Accept-Language`` (any Chinese asks for
    zh_CN, any English for en); None when it names none of them (or only "*")."""
    tags = {language.replace("_", "-"): language for language in languages}
    for language in languages:
        tags.setdefault(language.partition("_")[0], language)
    named = LanguageAccept([(tag, quality) for tag, quality in request.accept_languages
                            if tag != "*"])
    return tags.get(named.best_match(tags))


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
