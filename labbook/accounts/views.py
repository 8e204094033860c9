"""Sign-in, sign-out, the language switch and the user's profile with API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from labbook.accounts import services as accounts
from labbook.accounts.forms import ApiTokenForm, LanguageForm, LoginForm
from labbook.accounts.models import User
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db, login_manager

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        abort(401)
    flash(_("Please sign in to see this page."), "info")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None, fallback: str) -> str:
    """Only local paths are followed after sign-in, so a link cannot bounce users elsewhere."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return fallback
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("catalogue.home")))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Email or password is wrong, or the account is "
                                          "disabled."))
        else:
            session.pop("locale", None)
            login_user(user, remember=form.remember.data)
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(safe_next(form.next.data, url_for("catalogue.home")))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("catalogue.home"))


@bp.post("/language")
def switch_language():
    form = LanguageForm()
    if form.validate_on_submit() and form.locale.data in accounts.SUPPORTED_LOCALES:
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            with write_transaction(db.session):
                accounts.set_locale(current_user, form.locale.data)
    return redirect(safe_next(form.next.data, url_for("catalogue.home")))


# -- profile and API tokens -------------------------------------------------------------------


def _profile_page(form: ApiTokenForm, status: int = 200):
    user = current_user._get_current_object()
    return render_template("accounts/profile.html", user=user, form=form,
                           labs=accounts.managed_labs(db.session, user),
                           tokens=accounts.api_tokens_of(db.session, user)), status


@bp.get("/profile")
@login_required
def profile():
    return _profile_page(ApiTokenForm(formdata=None))


@bp.post("/profile/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _profile_page(form, 422)
    with write_transaction(db.session):
        token, secret = accounts.create_api_token(db.session, current_user._get_current_object(),
                                                  name=form.name.data, now=utcnow())
    # The secret is shown on this response only: it is not kept anywhere it could be shown
    # again, and the page must not be stored by the browser or a proxy either.
    response = make_response(render_template("accounts/token_created.html", token=token,
                                             secret=secret))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/profile/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    actor = current_user._get_current_object()
    with write_transaction(db.session):
        token = accounts.get_api_token(db.session, actor, token_id)
        accounts.revoke_api_token(db.session, actor, token, now=utcnow())
        name = token.name
    flash(_("The API token “%(name)s” was revoked; it no longer works.", name=name), "success")
    return redirect(url_for("accounts.profile"))
