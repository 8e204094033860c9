"""Bearer-token authentication for the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from labbook.accounts.models import User
from labbook.accounts.services import user_for_api_token
from labbook.core.errors import NotAuthenticated
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.i18n import gettext as _


def api_user(*, required: bool = True) -> User | None:
    """The user of the request's bearer token (cached per request)."""
    if "api_user" not in g:
        # The header straight from the WSGI environment, where request.headers finds it.
        header = request.environ.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, secret = header.partition(" ")
        user = None
        if scheme.lower() == "bearer" and secret.strip():
            user = user_for_api_token(db.session(), secret.strip(), now=utcnow())
            if user is None:
                raise NotAuthenticated(_("The API token is unknown or has been revoked."))
        g.api_user = user
    if required and g.api_user is None:
        raise NotAuthenticated(_("Send an API token: Authorization: Bearer <token>."))
    return g.api_user


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        api_user(required=True)
        return view(*args, **kwargs)

    return wrapper
