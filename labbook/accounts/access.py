"""The signed-in user as every page sees it, and the guards of the pages only some may open:
``require`` for any rule (403 to whoever it refuses), ``current_manager`` for one route of lab
managers and admins, ``require_manager`` for a whole blueprint of them."""

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


def require(allowed: bool) -> User:
    """The signed-in user, if the rule the caller checked ``allowed`` them; 403 otherwise."""
    if not allowed:
        abort(403)
    return current_actor()


def current_manager() -> User:
    """The signed-in user, if they manage a lab (or are an admin); 403 otherwise. For the
    managers' routes of a blueprint others use too."""
    return require(accounts.can_manage_something(current_actor()))


def require_manager() -> ResponseReturnValue | None:
    """``before_request`` of the blueprints only lab managers and admins open: a visitor is sent
    to sign in, anybody else who manages nothing is refused (403)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    current_manager()
    return None
