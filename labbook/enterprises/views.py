"""Pages of enterprises joining by themselves: registering, confirming the email address, asking
to join, accepting an invitation; the organization's admin page; the admins' registrations."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required
from wtforms import SelectChoice

from labbook.accounts.access import current_actor, current_viewer, require
from labbook.accounts.models import User
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError, NotFound, ValidationError
from labbook.core.time import utcnow
from labbook.enterprises import services
from labbook.enterprises.forms import (
    ApproveForm,
    BillingContactForm,
    InvitationAcceptForm,
    InviteForm,
    JoinRequestForm,
    RegistrationForm,
    RejectForm,
)
from labbook.enterprises.models import RegistrationState
from labbook.extensions import db, limiter
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors

bp = Blueprint("enterprises", __name__)


@bp.app_context_processor
def organization_link() -> dict:
    def administers_organization() -> bool:
        viewer = current_viewer()
        return viewer is not None \
            and services.administered_organization(db.session, viewer) is not None
    return {"administers_organization": administers_organization}


def _limit():
    """Registrations and requests to join per client address (config
    ``LABBOOK_RATELIMIT_REGISTRATION``), so that the forms cannot flood mailboxes."""
    return limiter.limit(lambda: current_app.config["LABBOOK_RATELIMIT_REGISTRATION"],
                         methods=["POST"])


def _locale() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def _private(response):
    """A page whose URL holds a secret (an invitation, a confirmation) is not stored."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _person(form) -> services.Person:
    email = form.email.data if hasattr(form, "email") else ""
    return services.Person(name=form.name.data or "", email=email or "",
                           password=form.password.data or "", phone=form.phone.data or "",
                           locale=_locale())


# -- registering --------------------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@_limit()
def register():
    form = RegistrationForm()
    if form.validate_on_submit():
        upload = form.licence.data
        licence = upload.read() if upload and upload.filename else None
        enterprise = services.Enterprise(
            name=form.organization_name.data, uscc=form.uscc.data, address=form.address.data,
            contact_phone=form.contact_phone.data, licence=licence)
        try:
            with write_transaction(db.session):
                services.register(db.session, enterprise, _person(form),
                                  secret_key=current_app.config["SECRET_KEY"], now=utcnow())
        except services.OrganizationRegistered as registered:
            show_errors(form, registered)
            return keep_refused(form) or (render_template(
                "enterprises/register.html", form=form, join_uscc=registered.uscc), FORM_REFUSED)
        except ValidationError as error:
            show_errors(form, error)
        else:
            # The same page whether or not the address had an account (its owner is told).
            return render_template("enterprises/check_mailbox.html", email=form.email.data)
    if form.is_submitted():
        return keep_refused(form) \
            or (render_template("enterprises/register.html", form=form), FORM_REFUSED)
    # A registration refused because the enterprise is registered offers to join it.
    join_uscc = services.registered_uscc(db.session, form.uscc.data or "") \
        if restore_kept(form) else None
    return render_template("enterprises/register.html", form=form, join_uscc=join_uscc)


@bp.get("/confirm/<token>")
def confirm_email(token: str):
    try:
        with write_transaction(db.session):
            confirmed = services.confirm_email(
                db.session, token, secret_key=current_app.config["SECRET_KEY"], now=utcnow())
    except ValidationError as error:
        return _private(make_response(render_template("enterprises/confirmed.html",
                                                      message=error.message), 400))
    return _private(make_response(render_template("enterprises/confirmed.html",
                                                  confirmed=confirmed)))


@bp.route("/join", methods=["GET", "POST"])
@_limit()
def join():
    form = JoinRequestForm()
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                services.request_to_join(db.session, form.uscc.data, _person(form),
                                         form.message.data or "",
                                         secret_key=current_app.config["SECRET_KEY"],
                                         now=utcnow())
        except ValidationError as error:
            show_errors(form, error)
        else:
            return render_template("enterprises/check_mailbox.html", email=form.email.data)
    if form.is_submitted():
        return keep_refused(form) \
            or (render_template("enterprises/join.html", form=form), FORM_REFUSED)
    if not restore_kept(form):
        form.uscc.data = request.args.get("uscc", "")
    return render_template("enterprises/join.html", form=form)


@bp.route("/invitations/<secret>", methods=["GET", "POST"])
@_limit()
def accept_invitation(secret: str):
    try:
        invitation = services.invitation_for(db.session, secret, now=utcnow())
    except ValidationError as error:
        return _private(make_response(render_template("enterprises/invitation.html", form=None,
                                                      message=error.message), 400))
    form = InvitationAcceptForm()
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                services.accept_invitation(db.session, secret, _person(form), now=utcnow())
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Your account was created. Sign in with your email address and the "
                    "password you chose."), "success")
            return redirect(url_for("accounts.login"))
    if not form.is_submitted():
        restore_kept(form)
    elif (kept := keep_refused(form)) is not None:
        return _private(kept)
    return _private(make_response(render_template("enterprises/invitation.html", form=form,
                                                  invitation=invitation)))


# -- the organization's admin -------------------------------------------------------------------


def _administered():
    actor = current_actor()
    organization = services.administered_organization(db.session, actor)
    if organization is None:
        abort(403)
    return actor, organization


def _organization_page(invite_form: InviteForm | None = None,
                       contact_form: BillingContactForm | None = None, status: int = 200):
    actor, organization = _administered()
    now = utcnow()
    members = services.members(db.session, organization)
    contact_form = contact_form or BillingContactForm(
        formdata=None, contact=organization.billing_contact_id)
    contact_form.contact.choices = [SelectChoice(member.id, f"{member.name} <{member.email}>")
                                    for member in members]
    return render_template(
        "enterprises/organization.html", organization=organization, members=members,
        admins={admin.id for admin in services.organization_admins(db.session, organization)},
        invitations=services.open_invitations(db.session, organization, now=now),
        join_requests=services.pending_join_requests(db.session, organization),
        overview=services.overview(db.session, actor, organization),
        invite_form=invite_form or InviteForm(formdata=None), contact_form=contact_form,
        actor=actor), status


@bp.get("/organization")
@login_required
def organization():
    invite_form = InviteForm(formdata=None)
    return _organization_page(invite_form=invite_form if restore_kept(invite_form) else None)


@bp.post("/organization/invitations")
@login_required
def invite():
    actor, organization = _administered()
    form = InviteForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for("enterprises.organization")) \
            or _organization_page(invite_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            services.invite(db.session, actor, organization, form.email.data, now=utcnow())
    except DomainError as error:
        show_errors(form, error)
        return keep_refused(form, url_for("enterprises.organization")) \
            or _organization_page(invite_form=form, status=FORM_REFUSED)
    flash(_("An invitation was sent to %(email)s; it works for %(days)d days.",
            email=form.email.data, days=services.INVITATION_LIFETIME.days), "success")
    return redirect(url_for("enterprises.organization"))


def _member(user_id: int) -> User:
    member = db.session.get(User, user_id)
    if member is None:
        raise NotFound(_("No member with id %(id)d.", id=user_id))
    return member


@bp.post("/organization/members/<int:user_id>/remove")
@login_required
def remove_member(user_id: int):
    actor, _organization = _administered()
    try:
        with write_transaction(db.session):
            member = _member(user_id)
            services.remove_member(db.session, actor, member, now=utcnow())
            name = member.name
    except NotFound:
        abort(404)
    except DomainError as error:
        return refuse(error, url_for("enterprises.organization"))
    flash(_("%(name)s was removed from the organization.", name=name), "success")
    return redirect(url_for("enterprises.organization"))


@bp.post("/organization/members/<int:user_id>/make-admin")
@login_required
def make_admin(user_id: int):
    actor, _organization = _administered()
    try:
        with write_transaction(db.session):
            member = _member(user_id)
            services.make_organization_admin(db.session, actor, member, now=utcnow())
            name = member.name
    except NotFound:
        abort(404)
    flash(_("%(name)s now administers the organization too.", name=name), "success")
    return redirect(url_for("enterprises.organization"))


@bp.post("/organization/billing-contact")
@login_required
def billing_contact():
    actor, organization = _administered()
    form = BillingContactForm()
    try:
        with write_transaction(db.session):
            services.set_billing_contact(db.session, actor, organization,
                                         _member(form.contact.data or 0), now=utcnow())
    except DomainError as error:
        return refuse(error, url_for("enterprises.organization"))
    flash(_("The billing contact was saved."), "success")
    return redirect(url_for("enterprises.organization"))


def _decide_join(join_request_id: int, *, accept: bool):
    actor = current_actor()
    back = url_for("enterprises.organization") if not actor.is_admin \
        else url_for("enterprises.registrations")
    try:
        with write_transaction(db.session):
            join_request = services.get_join_request(db.session, actor, join_request_id)
            services.decide_join_request(db.session, actor, join_request, accept=accept,
                                         now=utcnow())
            name = join_request.name
    except NotFound:
        abort(404)
    except DomainError as error:
        return refuse(error, back)
    flash(_("%(name)s is a member now.", name=name) if accept
          else _("The request of %(name)s was declined.", name=name), "success")
    return redirect(back)


@bp.post("/organization/join-requests/<int:join_request_id>/accept")
@login_required
def accept_join_request(join_request_id: int):
    return _decide_join(join_request_id, accept=True)


@bp.post("/organization/join-requests/<int:join_request_id>/decline")
@login_required
def decline_join_request(join_request_id: int):
    return _decide_join(join_request_id, accept=False)


# -- the admins' registrations --------------------------------------------------------------------


def _admin():
    return require(services.can_decide_registrations(current_actor()))


@bp.get("/admin/registrations")
@login_required
def registrations():
    _admin()
    return render_template(
        "enterprises/registrations.html",
        pending=services.registrations(db.session, RegistrationState.PENDING),
        decided=[registration for registration in services.registrations(db.session)
                 if registration.state != RegistrationState.PENDING],
        join_requests=services.join_requests_without_admin(db.session))


def _registration_page(registration_id: int, approve_form: ApproveForm | None = None,
                       reject_form: RejectForm | None = None, status: int = 200):
    actor = _admin()
    try:
        registration = services.get_registration(db.session, actor, registration_id)
    except NotFound:
        abort(404)
    return render_template("enterprises/registration.html", registration=registration,
                           approve_form=approve_form or ApproveForm(formdata=None),
                           reject_form=reject_form or RejectForm(formdata=None)), status


@bp.get("/admin/registrations/<int:registration_id>")
@login_required
def registration_detail(registration_id: int):
    approve_form, reject_form = ApproveForm(formdata=None), RejectForm(formdata=None)
    if not restore_kept(approve_form):
        restore_kept(reject_form)
    return _registration_page(registration_id, approve_form=approve_form,
                              reject_form=reject_form)


@bp.get("/admin/registrations/<int:registration_id>/licence")
@login_required
def registration_licence(registration_id: int):
    actor = _admin()
    try:
        registration = services.get_registration(db.session, actor, registration_id)
    except NotFound:
        abort(404)
    if registration.licence is None:
        abort(404)
    response = make_response(registration.licence)
    response.headers["Content-Type"] = registration.licence_type
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/admin/registrations/<int:registration_id>/approve")
@login_required
def approve_registration(registration_id: int):
    actor = _admin()
    form = ApproveForm()
    back = url_for("enterprises.registration_detail", registration_id=registration_id)
    if not form.validate_on_submit():
        return keep_refused(form, back) \
            or _registration_page(registration_id, approve_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            registration = services.get_registration(db.session, actor, registration_id)
            organization = services.approve_registration(db.session, actor, registration,
                                                         tier=form.tier.data, now=utcnow())
            name = organization.name
    except NotFound:
        abort(404)
    except DomainError as error:
        return refuse(error, back)
    flash(_("%(name)s is registered; its registrant administers it.", name=name), "success")
    return redirect(url_for("enterprises.registrations"))


@bp.post("/admin/registrations/<int:registration_id>/reject")
@login_required
def reject_registration(registration_id: int):
    actor = _admin()
    form = RejectForm()
    if not form.validate_on_submit():
        return keep_refused(form, url_for("enterprises.registration_detail",
                                          registration_id=registration_id)) \
            or _registration_page(registration_id, reject_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            registration = services.get_registration(db.session, actor, registration_id)
            services.reject_registration(db.session, actor, registration,
                                         reason=form.reason.data, now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as error:
        return refuse(error, url_for("enterprises.registration_detail",
                                     registration_id=registration_id))
    flash(_("The registration was rejected; the registrant is told why."), "success")
    return redirect(url_for("enterprises.registrations"))
