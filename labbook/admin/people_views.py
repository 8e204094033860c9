"""Administration of organizations and users (admins only)."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from labbook import links
from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor, require
from labbook.accounts.models import Organization, OrganizationStatus, Role, User
from labbook.admin.blueprint import bp
from labbook.admin.forms import EditOrganizationForm, OrganizationForm, UserForm
from labbook.audit import services as audit
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, ValidationError
from labbook.core.ids import database_id
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import page_arg
from labbook.i18n import localized
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors


def _admin() -> User:
    return require(accounts.can_manage_people(current_actor()))


def _organization(organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(_("No organization with id %(id)d.", id=organization_id))
    return organization


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No user with id %(id)d.", id=user_id))
    return user


# -- organizations ----------------------------------------------------------------------------


@bp.get("/organizations")
def organizations():
    _admin()
    q, status = request.args.get("q", ""), request.args.get("status") or None
    page = accounts.search_organizations(db.session, q=q, status=status,
                                         page=page_arg(),
                                         per_page=current_app.config["UI_PER_PAGE"])
    return render_template("admin/organizations.html", page=page, q=q, status=status,
                           statuses=list(OrganizationStatus))


def _organization_page(form: OrganizationForm, organization: Organization | None = None,
                       status: int = 200):
    history = audit.history(db.session, organization) if organization is not None else []
    return render_template("admin/organization_form.html", form=form,
                           organization=organization, history=history), status


@bp.route("/organizations/new", methods=["GET", "POST"])
def new_organization():
    admin = _admin()
    form = OrganizationForm()
    if not form.validate_on_submit():
        if not form.is_submitted():
            restore_kept(form)
            return _organization_page(form)
        return keep_refused(form) or _organization_page(form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            organization = accounts.create_organization(
                db.session, name=form.name.data, uscc=form.uscc.data, tier=form.tier.data,
                weekly_quota_hours=form.weekly_quota_hours.data, actor=admin, now=utcnow())
            organization_id, name = organization.id, organization.name
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form) or _organization_page(form, status=FORM_REFUSED)
    flash(_("%(name)s was added.", name=name), "success")
    return redirect(url_for(".edit_organization", organization_id=organization_id))


def _contact_choices(organization: Organization) -> list[SelectChoice]:
    return [SelectChoice("", _("Nobody"))] + [
        SelectChoice(str(member.id), f"{member.name} · {member.email}")
        for member in sorted(organization.members, key=lambda m: m.name) if member.is_active]


@bp.route("/organizations/<int:organization_id>", methods=["GET", "POST"])
def edit_organization(organization_id: int):
    admin = _admin()
    organization = _organization(organization_id)
    form = EditOrganizationForm() if request.method == "POST" else EditOrganizationForm(
        formdata=None, obj=organization, tier=organization.tier.value,
        status=organization.status.value)
    form.billing_contact_id.choices = _contact_choices(organization)
    if not form.validate_on_submit():
        if not form.is_submitted():
            restore_kept(form)
            return _organization_page(form, organization)
        return keep_refused(form) or _organization_page(form, organization, FORM_REFUSED)
    contact_id = form.billing_contact_id.data
    try:
        with write_transaction(db.session):
            changed = accounts.update_organization(
                db.session, admin, _organization(organization_id), now=utcnow(),
                name=form.name.data, uscc=form.uscc.data, status=form.status.data,
                tier=form.tier.data, weekly_quota_hours=form.weekly_quota_hours.data,
                billing_contact=db.session.get(User, contact_id) if contact_id else None,
                colleagues_may_book_for_each_other=bool(
                    form.colleagues_may_book_for_each_other.data))
    except ValidationError as error:
        show_errors(form, error, {**form._fields, "billing_contact": form.billing_contact_id})
        return keep_refused(form) or _organization_page(form, organization, FORM_REFUSED)
    flash(_("The organization was saved.") if changed else _("Nothing was changed."),
          "success" if changed else "info")
    return redirect(url_for(".edit_organization", organization_id=organization_id))


# -- users ------------------------------------------------------------------------------------


@bp.get("/users")
def users():
    _admin()
    q, role = request.args.get("q", ""), request.args.get("role") or None
    active = {"yes": True, "no": False}.get(request.args.get("active", ""))
    organization_id = request.args.get("organization", type=database_id)
    page = accounts.search_users(db.session, q=q, role=role, is_active=active,
                                 organization_id=organization_id, page=page_arg(),
                                 per_page=current_app.config["UI_PER_PAGE"])
    return render_template("admin/users.html", page=page, q=q, role=role,
                           active=request.args.get("active", ""), roles=list(Role),
                           organization=db.session.get(Organization, organization_id)
                           if organization_id else None)


def _user_form(**defaults) -> UserForm:
    form = UserForm() if request.method == "POST" else UserForm(formdata=None, **defaults)
    form.organization_id.choices = [SelectChoice("", _("None"))] + [
        SelectChoice(str(o.id), o.name) for o in accounts.all_organizations(db.session)]
    form.lab_ids.choices = [SelectChoice(str(lab.id), f"{lab.code} · {localized(lab, 'name')}")
                            for lab in catalogue.all_labs(db.session)]
    return form


def _user_values(form: UserForm) -> dict:
    """The form's choices as the objects the service takes."""
    organization_id = form.organization_id.data
    wanted = set(form.lab_ids.data or [])
    return {"email": form.email.data, "name": form.name.data, "phone": form.phone.data or "",
            "role": form.role.data, "locale": form.locale.data,
            "organization": db.session.get(Organization, organization_id)
            if organization_id else None,
            "labs": [lab for lab in catalogue.all_labs(db.session) if lab.id in wanted]}


def _user_page(form: UserForm, user: User | None = None, status: int = 200):
    history = audit.history(db.session, user) if user is not None else []
    return render_template("admin/user_form.html", form=form, user=user, history=history,
                           is_self=user is not None and user.id == current_actor().id), status


def _reset_link_page(reset: accounts.PasswordReset, *, is_new: bool):
    """The one-time link, shown on this response only, which no browser or proxy may keep."""
    response = make_response(render_template("admin/reset_link.html", reset=reset,
                                             is_new=is_new))
    response.headers["Cache-Control"] = "no-store"
    return response


def _reset_link(admin: User, user: User, now) -> accounts.PasswordReset:
    config = current_app.config
    return accounts.hand_over_password_reset(
        db.session, admin, user, secret_key=config["SECRET_KEY"],
        base_url=links.base_url(), max_age=config["LABBOOK_PASSWORD_RESET_MAX_AGE"],
        now=now)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    admin = _admin()
    organization_id = request.args.get("organization", type=database_id)
    form = _user_form(organization_id=organization_id, role=Role.RESEARCHER.value)
    if not form.validate_on_submit():
        if not form.is_submitted():
            restore_kept(form)
            return _user_page(form)
        return keep_refused(form) or _user_page(form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            now = utcnow()
            user = accounts.create_user(db.session, password=None, actor=admin, now=now,
                                        **_user_values(form))
            reset = _reset_link(admin, user, now)
    except ValidationError as error:
        show_errors(form, error, {**form._fields, "organization": form.organization_id,
                                  "labs": form.lab_ids})
        return keep_refused(form) or _user_page(form, status=FORM_REFUSED)
    return _reset_link_page(reset, is_new=True)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    admin = _admin()
    user = _user(user_id)
    form = _user_form(obj=user, role=user.role.value,
                      lab_ids=[lab.id for lab in user.managed_labs])
    if not form.validate_on_submit():
        if not form.is_submitted():
            restore_kept(form)
            return _user_page(form, user)
        return keep_refused(form) or _user_page(form, user, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            accounts.update_user(db.session, admin, _user(user_id), now=utcnow(),
                                 **_user_values(form))
    except ValidationError as error:
        show_errors(form, error, {**form._fields, "organization": form.organization_id,
                                  "labs": form.lab_ids})
        return keep_refused(form) or _user_page(form, user, FORM_REFUSED)
    flash(_("The account was saved."), "success")
    return redirect(url_for(".edit_user", user_id=user_id))


def _set_active(user_id: int, active: bool):
    # The CSRF token of the button's form is checked for every POST by CSRFProtect.
    admin = _admin()
    back = url_for(".edit_user", user_id=user_id)
    try:
        with write_transaction(db.session):
            user = _user(user_id)
            accounts.set_user_active(db.session, admin, user, active=active, now=utcnow())
            name = user.name
    except ValidationError as error:
        return refuse(error, back)
    flash(_("%(name)s can sign in again.", name=name) if active else _(
        "%(name)s can no longer sign in; their API tokens and calendar feeds stopped "
        "working.", name=name), "success")
    return redirect(back)


@bp.post("/users/<int:user_id>/activate")
def activate_user(user_id: int):
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reset-link")
def user_reset_link(user_id: int):
    admin = _admin()
    try:
        with write_transaction(db.session):
            reset = _reset_link(admin, _user(user_id), utcnow())
    except ValidationError as error:
        return refuse(error, url_for(".edit_user", user_id=user_id))
    return _reset_link_page(reset, is_new=False)
