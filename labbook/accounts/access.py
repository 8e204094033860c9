"""The signed-in user as every page sees it, and the guard of the pages only managers open."""

from __future__ import annotations

from flask import abort
from flask.typing import ResponseReturnValue
from flask_login import current_user

from labbook.accounts import services as accounts
from labbook.accounts.models import User
from labbook.extensions import login_manager


def current_actor() -> User:
    """The signed-in user behind this request, as the ``User`` the services take (not
    Flask-Login's proxy); for pages that require signing in."""
    return current_user._get_current_object()


def current_viewer() -> User | None:
    """The signed-in user, or None for a visitor who has not signed in."""
    return current_actor() if current_user.is_authenticated else None


def require_manager() -> ResponseReturnValue | None:
    """``before_request`` of the blueprints only lab managers and admins open: a visitor is sent
    to sign in, anybody else who manages nothing is refused (403)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not accounts.can_manage_something(current_user):
        abort(403)
    return None
