"""Sign-in, sign-out, the language switch and the user's profile with API tokens."""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_DURATION

from labbook import links
from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor
from labbook.accounts.forms import (
    ApiTokenForm,
    EmailPreferencesForm,
    ForgotPasswordForm,
    LanguageForm,
    LoginForm,
    ResetPasswordForm,
)
from labbook.accounts.models import User
from labbook.core.engine import write_transaction
from labbook.core.errors import ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db, limiter, login_manager
from labbook.notify import services as notify
from labbook.web import FORM_REFUSED, keep_refused, page_to_return_to, restore_kept, safe_next

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user a session or "remember me" cookie belongs to (see ``User.get_id``)."""
    return accounts.user_for_login_session(db.session, session_id, now=utcnow())


def _sign_in_lifetime(remember: bool) -> dt.timedelta:
    """How long a sign-in may last on the server: as long as its "remember me" cookie, or else
    as long as a session."""
    config = current_app.config
    lifetime = config.get("REMEMBER_COOKIE_DURATION", COOKIE_DURATION) if remember \
        else config["PERMANENT_SESSION_LIFETIME"]
    return lifetime if isinstance(lifetime, dt.timedelta) else dt.timedelta(seconds=lifetime)


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        abort(401)
    flash(_("Please sign in to see this page."), "info")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def landing_page(user: User) -> str:
    """Where signing in leads when no page asked for it: admins see the labs side by side,
    lab managers their day's work, everyone else the catalogue."""
    if user.is_admin:
        return url_for("reports.institute_dashboard")
    if user.is_lab_manager:
        return url_for("reports.dashboard")
    return url_for("catalogue.home")


def _limit(name: str):
    """The rate limit configured as ``name``, on POST requests per client address."""
    return limiter.limit(lambda: current_app.config[name], methods=["POST"])


@bp.route("/login", methods=["GET", "POST"])
@_limit("LABBOOK_RATELIMIT_LOGIN")
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), landing_page(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = accounts.sign_in(db.session, form.email.data, form.password.data,
                                    lockout=current_app.config["LABBOOK_LOGIN_LOCKOUT"],
                                    now=utcnow())
        except accounts.AccountLocked as locked:
            form.password.errors.append(locked.message)
            return render_template("accounts/login.html", form=form), 429, \
                {"Retry-After": str(locked.retry_after)}
        if user is None:
            form.password.errors.append(_("Email or password is wrong, or the account is "
                                          "disabled."))
        else:
            session.pop("locale", None)
            with write_transaction(db.session):
                accounts.start_login_session(db.session, user, now=utcnow(),
                                             lifetime=_sign_in_lifetime(form.remember.data))
            login_user(user, remember=form.remember.data)
            # The welcome in the language of the pages that follow (the account's), not the
            # one this request chose while nobody was signed in (the browser's).
            refresh_locale()
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(safe_next(form.next.data, landing_page(user)))
    if form.is_submitted():
        return keep_refused(form) or render_template("accounts/login.html", form=form)
    restore_kept(form)
    return render_template("accounts/login.html", form=form)


# -- password reset ---------------------------------------------------------------------------


def _reset_settings() -> dict:
    config = current_app.config
    return {"secret_key": config["SECRET_KEY"],
            "max_age": config["LABBOOK_PASSWORD_RESET_MAX_AGE"]}


def _private(response):
    """The reset link is in the URL: the page must not be stored. (The same-origin referrer
    policy keeps the URL from other sites, and the form needs the Referer for CSRF over https.)
    """
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/password/forgot", methods=["GET", "POST"])
@_limit("LABBOOK_RATELIMIT_PASSWORD_RESET")
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        config = current_app.config
        reset = accounts.request_password_reset(
            db.session, form.email.data, base_url=links.base_url(),
            per_address=config["LABBOOK_RATELIMIT_RESET_EMAIL"], now=utcnow(),
            **_reset_settings())
        if reset is not None:
            with write_transaction(db.session):
                notify.password_reset(db.session, reset.user, link=reset.link,
                                      expires_at=reset.expires_at, now=utcnow())
        # The same answer whether or not the address has an account.
        flash(_("If an account uses %(email)s, a link to set a new password is on its way. "
                "It works once, for %(minutes)d minutes.", email=form.email.data,
                minutes=config["LABBOOK_PASSWORD_RESET_MAX_AGE"] // 60), "info")
        return redirect(url_for("accounts.login"))
    if form.is_submitted():
        return keep_refused(form) or render_template("accounts/forgot_password.html", form=form)
    restore_kept(form)
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@_limit("LABBOOK_RATELIMIT_PASSWORD_RESET")
def reset_password(token: str):
    try:
        user = accounts.user_for_password_reset(db.session, token, **_reset_settings())
    except ValidationError as error:
        return _private(make_response(render_template(
            "accounts/reset_password.html", form=None, message=error.message), 400))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                accounts.reset_password(
                    db.session, token, form.password.data, now=utcnow(),
                    lockout=current_app.config["LABBOOK_LOGIN_LOCKOUT"], **_reset_settings())
        except ValidationError as error:
            form.password.errors.append(error.message)
        else:
            flash(_("Your password was changed. Sign in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    if not form.is_submitted():
        restore_kept(form)
    # Of a refused new password only why it was refused is kept: both fields hold the password.
    elif (kept := keep_refused(form)) is not None:
        return _private(kept)
    return _private(make_response(render_template("accounts/reset_password.html", form=form,
                                                  user=user)))


@bp.post("/logout")
@login_required
def logout():
    with write_transaction(db.session):
        accounts.end_login_session(db.session, current_actor())
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
    # Back to the page the switch was pressed on (base.html names it: for a page that answered a
    # form, the page the form was sent from), in the other language; never to an address that
    # takes only forms.
    return redirect(page_to_return_to(form.next.data, fallback=url_for("catalogue.home")), 303)


# -- profile and API tokens -------------------------------------------------------------------


def _profile_page(form: ApiTokenForm, status: int = 200,
                  email_form: EmailPreferencesForm | None = None):
    user = current_actor()
    email_form = email_form or EmailPreferencesForm(
        formdata=None, reminders=user.is_reminder_email_enabled,
        digests=user.is_digest_email_enabled)
    return render_template("accounts/profile.html", user=user, form=form, email_form=email_form,
                           labs=accounts.managed_labs(db.session, user),
                           tokens=accounts.api_tokens_of(db.session, user)), status


@bp.get("/profile")
@login_required
def profile():
    token_form, email_form = ApiTokenForm(formdata=None), EmailPreferencesForm(formdata=None)
    if restore_kept(email_form):
        return _profile_page(token_form, email_form=email_form)
    restore_kept(token_form)
    return _profile_page(token_form)


@bp.post("/profile/email")
@login_required
def email_preferences():
    form = EmailPreferencesForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for("accounts.profile")) \
            or _profile_page(ApiTokenForm(formdata=None), FORM_REFUSED, email_form=form)
    with write_transaction(db.session):
        notify.set_preferences(current_actor(),
                               reminders=form.reminders.data, digests=form.digests.data)
    flash(_("Your email settings were saved."), "success")
    return redirect(url_for("accounts.profile"))


@bp.post("/profile/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for("accounts.profile")) \
            or _profile_page(form, FORM_REFUSED)
    with write_transaction(db.session):
        token, secret = accounts.create_api_token(db.session, current_actor(),
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
    actor = current_actor()
    with write_transaction(db.session):
        token = accounts.get_api_token(db.session, actor, token_id)
        accounts.revoke_api_token(db.session, actor, token, now=utcnow())
        name = token.name
    flash(_("The API token “%(name)s” was revoked; it no longer works.", name=name), "success")
    return redirect(url_for("accounts.profile"))
