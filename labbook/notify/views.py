"""Where people read labbook's messages: a person's channels per kind of message, and a lab's
WeCom group robot for its managers' queues."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from labbook.accounts.access import current_actor, current_manager
from labbook.catalogue import services as catalogue
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.notify import channels
from labbook.notify import services as notify
from labbook.notify.forms import ChannelsForm, LabRobotForm
from labbook.notify.models import Channel, Topic
from labbook.web import FORM_REFUSED, keep_refused, restore_kept, show_errors

bp = Blueprint("notifications", __name__)


def _channels_page(form: ChannelsForm, status: int = 200):
    user = current_actor()
    return render_template("notify/channels.html", form=form, user=user, topics=list(Topic),
                           sms_enabled=channels.sms_enabled(current_app.config)), status


@bp.get("/profile/notifications")
@login_required
def preferences():
    chosen = notify.channel_preferences(db.session, current_actor())
    form = ChannelsForm(formdata=None, **{
        f"sms_{topic.value}": (topic, Channel.SMS) in chosen for topic in Topic})
    restore_kept(form)
    return _channels_page(form)


@bp.post("/profile/notifications")
@login_required
def save_preferences():
    form = ChannelsForm()
    if not form.validate_on_submit():
        return keep_refused(form) or _channels_page(form, FORM_REFUSED)
    wanted = {(topic, Channel.SMS) for topic in Topic if form.sms_field(topic).data}
    try:
        with write_transaction(db.session):
            notify.set_channel_preferences(db.session, current_actor(), wanted, now=utcnow())
    except DomainError as error:
        show_errors(form, error, {})
        return keep_refused(form) or _channels_page(form, FORM_REFUSED)
    flash(_("Your choice of channels was saved."), "success")
    return redirect(url_for("notifications.preferences"))


def _robot_page(code: str, form: LabRobotForm | None = None, status: int = 200):
    actor = current_manager()
    lab = catalogue.get_lab(db.session, code, managed_by=actor)
    if form is None:
        robot = notify.lab_robot(db.session, lab)
        form = LabRobotForm(
            formdata=None, webhook_url=robot.webhook_url if robot else "",
            approvals=robot.posts_approvals if robot else True,
            orders=robot.posts_orders if robot else True,
            faults=robot.posts_faults if robot else True)
    return render_template("notify/lab_robot.html", lab=lab, form=form), status


@bp.get("/manage/labs/<code>/wecom")
@login_required
def lab_robot(code: str):
    form = LabRobotForm(formdata=None)
    return _robot_page(code, form if restore_kept(form) else None)


@bp.post("/manage/labs/<code>/wecom")
@login_required
def save_lab_robot(code: str):
    actor = current_manager()
    form = LabRobotForm()
    if not form.validate_on_submit():
        return keep_refused(form) or _robot_page(code, form, FORM_REFUSED)
    queues = {queue for queue in notify.ROBOT_QUEUES if form[queue].data}
    try:
        with write_transaction(db.session):
            lab = catalogue.get_lab(db.session, code, managed_by=actor)
            notify.set_lab_robot(db.session, actor, lab, webhook_url=form.webhook_url.data or "",
                                 queues=queues, now=utcnow())
    except DomainError as error:
        if error.status == 404:
            raise
        show_errors(form, error)
        return keep_refused(form) or _robot_page(code, form, FORM_REFUSED)
    flash(_("The lab's WeCom robot was saved."), "success")
    return redirect(url_for("notifications.lab_robot", code=code))
