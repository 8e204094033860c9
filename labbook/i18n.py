"""Locale selection and helpers for bilingual catalogue fields."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

DEFAULT_LOCALE = "zh_CN"


def select_locale() -> str:
    """The language of the answer.

    An API request gets the language its ``Accept-Language`` asks for, when labbook speaks it;
    else the token owner's language. A page gets the signed-in user's saved language, else the
    one chosen with the switch (kept in the session), else the one the browser's
    ``Accept-Language`` prefers among those labbook speaks: a visitor whose browser asks for
    English reads English from the first page on. Otherwise Chinese.
    """
    languages = current_app.config["LANGUAGES"]
    if has_request_context():
        is_api = request.path.startswith("/api/")
        if is_api:
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
        if not is_api:
            asked = _asked_language(languages)
            if asked is not None:
                return asked
    return DEFAULT_LOCALE


def _asked_language(languages: tuple[str, ...]) -> str | None:
    """The first of ``languages`` the request's ``Accept-Language`` names, in its order of
    preference: any Chinese asks for zh_CN, any English for en (so "en-GB,zh-CN;q=0.8" is
    English); None when it names none of them (or only "*")."""
    g.language_negotiated = True
    by_language = {language.partition("_")[0]: language for language in languages}
    for tag, _quality in request.accept_languages:
        spoken = by_language.get(tag.replace("_", "-").partition("-")[0].lower())
        if spoken is not None:
            return spoken
    return None


def vary_on_language(response: Response) -> Response:
    """Tell caches that an answer whose language ``Accept-Language`` chose differs by that
    header, and by the cookie (the session's choice, the signed-in user) that would have won
    over it."""
    if g.get("language_negotiated"):
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response


def register(app: Flask) -> None:
    app.after_request(vary_on_language)


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
