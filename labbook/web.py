"""Template helpers shared by every page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Flask, request
from flask_babel import format_decimal, get_locale

from labbook.core.time import to_lab_time
from labbook.i18n import localized


def format_money(amount: Decimal | None) -> str:
    if amount is None:
        return "—"
    return "¥" + format_decimal(amount, format="#,##0.00")


def format_lab_datetime(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return to_lab_time(moment).strftime(fmt)


def url_with(**changes: Any) -> str:
    """The current URL with some query parameters replaced (``None`` removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    from urllib.parse import urlencode

    query = urlencode(args)
    return request.path + ("?" + query if query else "")


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["labtime"] = format_lab_datetime
    app.jinja_env.globals["localized"] = localized
    app.jinja_env.globals["url_with"] = url_with

    @app.context_processor
    def inject_locale() -> dict[str, Any]:
        locale = get_locale()
        return {"current_locale": str(locale) if locale else "zh_CN",
                "html_lang": "en" if locale and locale.language == "en" else "zh-CN"}
