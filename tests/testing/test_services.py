"""The testing services' rules at their edges: what a request may hold and what each refusal
says, who sees, cancels and decides a request, the due date in lab time, and the report kept.

The services are called with an explicit ``now``; the messages are read in English.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from labbook.accounts.models import OrganizationStatus, PriceTier
from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge, ChargeKind
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.testing import services
from labbook.testing.models import ServiceRequestState
from tests.factories import (
    create_admin,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_user,
    lab_time,
)

PDF = b"%PDF-1.4\n% report\n"
MONDAY = dt.date(2026, 11, 2)
NOW = lab_time(MONDAY, 9)


@pytest.fixture(autouse=True)
def english():
    with force_locale("en"):
        yield


@pytest.fixture
def lab():
    return create_lab(code="TST")


@pytest.fixture
def service(lab):
    return create_service(lab=lab, price_external=Decimal("150.00"), turnaround_days=5,
                          express_surcharge_percent=50)


@pytest.fixture
def manager(lab):
    return create_manager(lab)


@pytest.fixture
def requester():
    return create_user()


def submitted(service, requester, **values):
    values = {"samples": 2, "sample_description": "Two tensile bars", "express": False,
              "now": NOW, **values}
    return services.submit(db.session, requester, service, **values)


def events(item, action):
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "service_requests", AuditEvent.object_id == item.id,
        AuditEvent.action == action)))


def told(requester):
    """When the messages to ``requester`` about their request were queued."""
    return [message.created_at for message in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == requester.email)
        .order_by(OutboxMessage.id))]


def problems(refused):
    return [(p.code, p.field, p.message) for p in refused.value.problems]


# -- what a request may hold ------------------------------------------------------------------


SAMPLES = ("invalid_samples", "samples",
           "The number of samples must be a whole number from 1 to 1000.")


@pytest.mark.parametrize("samples", [0, 1001, -1, None, True, 2.0, "2"])
def test_the_number_of_samples_is_a_whole_number_from_1_to_1000(service, samples):
    assert [(p.code, p.field, p.message) for p in services.check_input(
        service, samples=samples, sample_description="x", express=False, notes="")] == [SAMPLES]


@pytest.mark.parametrize("samples", [1, 1000])
def test_one_and_a_thousand_samples_are_fine(service, samples):
    assert services.check_input(service, samples=samples, sample_description="x",
                                express=True, notes="n" * 2000) == []


def test_every_problem_is_told_at_once(lab):
    plain = create_service(lab=lab, express_surcharge_percent=0)
    assert [(p.code, p.field, p.message) for p in services.check_input(
        plain, samples=0, sample_description="  ", express=True, notes="n" * 2001)] == [
        SAMPLES,
        ("required", "sample_description", "Describe the samples."),
        ("too_long_text", "notes", "At most 2000 characters."),
        ("express_not_offered", "express", "This testing service has no express option.")]
    assert [(p.code, p.field, p.message) for p in services.check_input(
        plain, samples=1, sample_description=" " + "d" * 2001, express=False, notes=None)] == [
        ("too_long_text", "sample_description", "At most 2000 characters.")]
    assert services.check_input(plain, samples=1, sample_description="d" * 2000,
                                express=False, notes=None) == []


def test_a_quote_refused_says_why(service, requester):
    with pytest.raises(ValidationError) as refused:
        services.quote_for(requester, service, samples=0, sample_description="", express=False)
    assert (refused.value.code, refused.value.message) == SAMPLES[::2]
    assert len(refused.value.problems) == 2

    service.is_active = False
    db.session.commit()
    with pytest.raises(Conflict) as inactive:
        services.quote_for(requester, service, samples=1, sample_description="x",
                           express=False)
    assert (inactive.value.code, inactive.value.message) == (
        "service_inactive", "This testing service is not offered at the moment.")


def test_only_members_of_an_organization_in_good_standing_request_tests(service):
    with pytest.raises(ValidationError) as nobody:
        submitted(service, create_user(organization=None))
    message = "Your account belongs to no organization, so there is nobody to bill."
    assert (nobody.value.code, nobody.value.message) == ("no_organization", message)
    assert problems(nobody) == [("no_organization", None, message)]

    suspended = create_organization(name="Acme Ltd", status=OrganizationStatus.SUSPENDED)
    with pytest.raises(Conflict) as refused:
        submitted(service, create_user(organization=suspended))
    message = "Acme Ltd is suspended and cannot request tests at the moment."
    assert (refused.value.code, refused.value.message) == ("org_suspended", message)
    assert problems(refused) == [("org_suspended", None, message)]


def test_a_submitted_request_keeps_its_quote_and_tells_the_lab(service, manager, requester):
    item = submitted(service, requester, samples=3, sample_description="  Steel bars ",
                     express=True, notes=" Keep dry ")
    db.session.commit()

    assert (item.service, item.requester, item.organization) == (
        service, requester, requester.organization)
    assert (item.samples, item.sample_description, item.notes, item.is_express) == (
        3, "Steel bars", "Keep dry", True)
    assert (item.state, item.tier, item.created_at, item.updated_at) == (
        ServiceRequestState.SUBMITTED, PriceTier.EXTERNAL, NOW, NOW)
    assert (item.quoted_unit_price, item.express_surcharge_percent,
            item.quoted_express_surcharge, item.quoted_total) == (
        Decimal("150.00"), 50, Decimal("225.00"), Decimal("675.00"))
    assert item.decision_note == ""
    [event] = events(item, "submit")
    assert (event.actor_id, event.at, event.to_state) == (requester.id, NOW, "submitted")
    assert event.details["quoted_total"] == "675.00"
    [message] = db.session.scalars(select(OutboxMessage))
    assert (message.kind, message.recipient, message.created_at) == (
        "service_request_submitted", manager.email, NOW)


def test_notes_are_optional_and_checked_on_submission_too(service, requester):
    without = services.submit(db.session, requester, service, samples=1,
                              sample_description="Bar", express=False, now=NOW)
    with_none = submitted(service, requester, notes=None)
    assert without.notes == with_none.notes == ""
    with pytest.raises(ValidationError) as refused:
        submitted(service, requester, notes="n" * 2001)
    assert problems(refused) == [("too_long_text", "notes", "At most 2000 characters.")]


# -- who sees, cancels and decides ------------------------------------------------------------


@pytest.fixture
def people(lab, manager, requester):
    organization = requester.organization
    contact = create_user(organization=create_organization())
    organization.billing_contact = contact
    db.session.commit()
    return {"requester": requester, "manager": manager, "admin": create_admin(),
            "billing contact": contact,
            "colleague": create_user(organization=organization),
            "other lab's manager": create_manager(create_lab()), "stranger": create_user()}


@pytest.mark.parametrize(("who", "view", "report", "cancel", "decide"), [
    ("requester", True, True, True, False),
    ("manager", True, True, True, True),
    ("admin", True, True, True, True),
    ("billing contact", True, True, False, False),
    ("colleague", False, True, False, False),
    ("other lab's manager", False, False, False, False),
    ("stranger", False, False, False, False),
])
def test_who_may_do_what_with_a_request(service, people, who, view, report, cancel, decide):
    item = submitted(service, people["requester"])
    actor = people[who]
    assert services.can_view(actor, item) is view
    assert services.can_download_report(actor, item) is report
    assert services.can_cancel(actor, item) is cancel
    assert services.can_decide(actor, item) is decide
    if view:
        assert services.get_request(db.session, actor, item.id) == item
    else:
        with pytest.raises(NotFound) as hidden:
            services.get_request(db.session, actor, item.id)
        assert hidden.value.message == f"No service request with id {item.id}."


def test_a_report_is_found_only_once_there_is_one(service, manager, requester, tmp_path):
    item = submitted(service, requester)
    with pytest.raises(NotFound) as none_yet:
        services.get_request_for_report(db.session, requester, item.id)
    assert none_yet.value.message == f"No report for service request {item.id}."
    with pytest.raises(NotFound):
        services.get_request_for_report(db.session, requester, item.id + 1000)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    services.complete(db.session, manager, item, now=NOW, report=services.ReportUpload(
        "r.pdf", PDF), report_dir=tmp_path, max_bytes=1024)
    assert services.get_request_for_report(db.session, requester, item.id) == item
    with pytest.raises(NotFound):
        services.get_request_for_report(db.session, create_user(), item.id)


@pytest.mark.parametrize(("who", "error", "message"), [
    ("requester", PermissionDenied, "Only the lab's managers handle service requests."),
    ("billing contact", PermissionDenied, "Only the lab's managers handle service requests."),
    ("colleague", NotFound, "No service request with id {id}."),
    ("other lab's manager", NotFound, "No service request with id {id}."),
])
def test_only_the_labs_managers_decide(service, people, who, error, message):
    item = submitted(service, people["requester"])
    for decide in (services.accept, services.start):
        with pytest.raises(error) as refused:
            decide(db.session, people[who], item, now=NOW)
        assert refused.value.message == message.format(id=item.id)
    with pytest.raises(error):
        services.reject(db.session, people[who], item, now=NOW, note="No")
    assert item.state == ServiceRequestState.SUBMITTED


def test_the_billing_contact_sees_a_request_but_does_not_cancel_it(service, people):
    item = submitted(service, people["requester"])
    with pytest.raises(PermissionDenied) as refused:
        services.cancel(db.session, people["billing contact"], item, now=NOW)
    assert refused.value.message == "Only the requester or the lab's managers may cancel."
    with pytest.raises(NotFound) as hidden:
        services.cancel(db.session, people["colleague"], item, now=NOW)
    assert hidden.value.message == f"No service request with id {item.id}."
    assert item.state == ServiceRequestState.SUBMITTED


def test_a_cancellation_says_who_and_when(service, manager, requester):
    item = submitted(service, requester)
    services.cancel(db.session, manager, item, now=NOW, note=" Out of reagent ")
    db.session.commit()
    assert (item.state, item.cancelled_at, item.cancelled_by) == (
        ServiceRequestState.CANCELLED, NOW, manager)
    other = submitted(service, requester)
    services.cancel(db.session, requester, other, now=NOW)
    assert events(other, "cancel")[0].note == ""
    [event] = events(item, "cancel")
    assert (event.actor_id, event.note, event.from_state, event.to_state) == (
        manager.id, "Out of reagent", "submitted", "cancelled")
    [message] = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind != "service_request_submitted"))
    assert (message.recipient, message.created_at) == (requester.email, NOW)


def test_a_request_that_is_no_longer_open_says_so(service, manager, requester):
    item = submitted(service, requester)
    with pytest.raises(Conflict) as refused:
        services.start(db.session, manager, item, now=NOW)
    assert (refused.value.code, refused.value.message) == (
        "invalid_state", "A service request that is “Submitted” cannot become “In progress”.")
    assert events(item, "start") == []


# -- the lab's decisions ----------------------------------------------------------------------


def test_accepting_sets_the_due_date_and_says_who_decided(service, manager, requester):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW, note=" On Friday ")
    db.session.commit()
    assert (item.state, item.due_date) == (ServiceRequestState.ACCEPTED, dt.date(2026, 11, 9))
    assert (item.decided_by, item.decided_at, item.decision_note, item.updated_at) == (
        manager, NOW, "On Friday", NOW)
    [event] = events(item, "accept")
    assert (event.actor_id, event.at, event.note) == (manager.id, NOW, "On Friday")
    assert told(requester) == [NOW]
    assert event.details["due_date"] == "2026-11-09"


def test_the_due_date_may_be_today_in_lab_time_and_not_before(service, manager, requester):
    # 23:30 UTC on Sunday is 07:30 on Monday in the lab.
    now = dt.datetime(2026, 11, 1, 23, 30, tzinfo=dt.UTC)
    first = submitted(service, requester)
    with pytest.raises(ValidationError) as refused:
        services.accept(db.session, manager, first, now=now,
                        due_date=dt.date(2026, 11, 1))
    message = "The due date cannot be before today."
    assert (refused.value.code, refused.value.message) == ("invalid_due_date", message)
    assert problems(refused) == [("invalid_due_date", "due_date", message)]
    assert first.state == ServiceRequestState.SUBMITTED
    services.accept(db.session, manager, first, now=now, due_date=MONDAY)
    assert first.due_date == MONDAY
    second = submitted(service, requester)
    services.accept(db.session, manager, second, now=now)
    assert second.due_date == dt.date(2026, 11, 9)  # five working days from Monday
    assert second.decision_note == "" and events(second, "accept")[0].note == ""


def test_a_note_holds_up_to_a_thousand_characters(service, manager, requester):
    item = submitted(service, requester)
    with pytest.raises(ValidationError) as refused:
        services.accept(db.session, manager, item, now=NOW, note="n" * 1001)
    message = "At most 1000 characters."
    assert (refused.value.code, refused.value.message) == ("too_long_text", message)
    assert problems(refused) == [("too_long_text", "note", message)]
    services.accept(db.session, manager, item, now=NOW, note="n" * 1000)
    assert item.decision_note == "n" * 1000


def test_a_rejection_says_why(service, manager, requester):
    item = submitted(service, requester)
    with pytest.raises(ValidationError) as refused:
        services.reject(db.session, manager, item, now=NOW, note="  ")
    message = "Say why the request is rejected."
    assert (refused.value.code, refused.value.message) == ("required", message)
    assert problems(refused) == [("required", "note", message)]

    services.reject(db.session, manager, item, now=NOW, note=" Samples too small ")
    db.session.commit()
    assert (item.state, item.decided_by, item.decided_at, item.decision_note) == (
        ServiceRequestState.REJECTED, manager, NOW, "Samples too small")
    [event] = events(item, "reject")
    assert (event.actor_id, event.note) == (manager.id, "Samples too small")
    assert told(requester) == [NOW]


def test_starting_the_work_is_recorded(service, manager, requester):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    later = NOW + dt.timedelta(hours=2)
    services.start(db.session, manager, item, now=later)
    db.session.commit()
    assert (item.state, item.started_at, item.updated_at) == (
        ServiceRequestState.IN_PROGRESS, later, later)
    [event] = events(item, "start")
    assert (event.actor_id, event.at, event.from_state, event.note) == (
        manager.id, later, "accepted", "")
    assert told(requester) == [NOW, later]


# -- reports ----------------------------------------------------------------------------------


def test_a_report_may_be_as_large_as_allowed_and_no_larger():
    services.check_report(services.ReportUpload("r.pdf", PDF), max_bytes=len(PDF))
    with pytest.raises(services.ReportTooLarge) as refused:
        services.check_report(services.ReportUpload("r.pdf", PDF + b"x"), max_bytes=len(PDF))
    message = "The report is larger than 1 MB."
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        413, "report_too_large", message)
    assert problems(refused) == [("report_too_large", "report", message)]
    with pytest.raises(services.ReportTooLarge) as refused:
        services.check_report(services.ReportUpload("r.pdf", PDF + b"x" * (3 << 20)),
                              max_bytes=3 << 20)
    assert refused.value.message == "The report is larger than 3 MB."


@pytest.mark.parametrize("data", [b"", b"%PDF", b"hello %PDF-1.4", b"%pdf-1.4"])
def test_a_report_is_a_pdf(data):
    with pytest.raises(ValidationError) as refused:
        services.check_report(services.ReportUpload("r.pdf", data), max_bytes=1024)
    message = "The report must be a PDF file."
    assert (refused.value.code, refused.value.message) == ("not_a_pdf", message)
    assert problems(refused) == [("not_a_pdf", "report", message)]


@pytest.mark.parametrize(("name", "kept"), [
    ("XRD report.pdf", "XRD report.pdf"),
    ("C:\\Users\\li\\报告 2026.pdf", "报告 2026.pdf"),
    ("../../etc/passwd", "passwd"),
    ('  a"b\tc\x00.pdf  ', "abc.pdf"),
    ("", "report.pdf"),
    ("dir/", "report.pdf"),
    ("x" * 300 + ".pdf", "x" * 255),
])
def test_the_reports_name_is_kept_without_its_path_or_unprintable_characters(
        service, manager, requester, tmp_path, name, kept):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    services.complete(db.session, manager, item, now=NOW, report_dir=tmp_path, max_bytes=1024,
                      report=services.ReportUpload(name, PDF))
    assert item.report_filename == kept


def test_completing_keeps_the_report_and_charges_the_quote(service, manager, requester,
                                                           tmp_path):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    done_at = NOW + dt.timedelta(days=3)
    path = services.complete(db.session, manager, item, now=done_at,
                             report=services.ReportUpload("result.pdf", PDF),
                             report_dir=tmp_path / "reports" / "2026", max_bytes=1024)
    db.session.commit()

    assert path.parent == tmp_path / "reports" / "2026" and path.read_bytes() == PDF
    assert path.name.startswith(f"{item.id}-") and path.suffix == ".pdf"
    assert services.report_file(item, tmp_path / "reports" / "2026") == path
    assert (item.state, item.completed_at, item.report_path, item.report_filename) == (
        ServiceRequestState.COMPLETED, done_at, path.name, "result.pdf")
    assert (item.report_size, item.report_sha256, item.report_uploaded_at) == (
        len(PDF), hashlib.sha256(PDF).hexdigest(), done_at)
    [event] = events(item, "complete")
    assert (event.actor_id, event.at, event.details["report"]) == (manager.id, done_at, True)
    [charge] = db.session.scalars(select(Charge))
    assert (charge.kind, charge.amount, charge.created_at) == (
        ChargeKind.SERVICE, Decimal("300.00"), done_at)
    assert told(requester) == [NOW, NOW, done_at]


def test_completing_without_a_report_keeps_no_file(service, manager, requester, tmp_path):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    assert services.complete(db.session, manager, item, now=NOW, report_dir=tmp_path,
                             max_bytes=1024) is None
    assert (item.state, item.report_path) == (ServiceRequestState.COMPLETED, None)
    assert events(item, "complete")[0].details["report"] is False
    assert list(tmp_path.iterdir()) == []


def test_a_report_refused_leaves_the_work_in_progress(service, manager, requester, tmp_path):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    with pytest.raises(ValidationError):
        services.complete(db.session, manager, item, now=NOW, report_dir=tmp_path,
                          max_bytes=1024, report=services.ReportUpload("r.pdf", b"no"))
    assert item.state == ServiceRequestState.IN_PROGRESS and events(item, "complete") == []


def test_completing_in_one_write_commits_the_request_and_its_report(service, manager,
                                                                    requester, tmp_path):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    db.session.commit()
    done = services.complete_in_one_write(db.session, manager, item.id, now=NOW,
                                          report=services.ReportUpload("r.pdf", PDF),
                                          report_dir=tmp_path, max_bytes=1024)
    db.session.rollback()
    assert done == item and item.state == ServiceRequestState.COMPLETED
    assert (tmp_path / item.report_path).read_bytes() == PDF
    with pytest.raises(NotFound):
        services.complete_in_one_write(db.session, create_user(), item.id, now=NOW,
                                       report=None, report_dir=tmp_path, max_bytes=1024)


def test_a_report_written_for_a_write_that_fails_is_removed(service, manager, requester,
                                                            tmp_path, monkeypatch):
    item = submitted(service, requester)
    services.accept(db.session, manager, item, now=NOW)
    services.start(db.session, manager, item, now=NOW)
    db.session.commit()
    commit = db.session.commit
    commits = []

    def commit_fails_at_the_end():
        # write_transaction commits once before it starts and once at its end.
        commits.append(True)
        if len(commits) == 2:
            raise OSError("disk full")
        commit()

    monkeypatch.setattr(db.session, "commit", commit_fails_at_the_end)
    with pytest.raises(OSError):
        services.complete_in_one_write(db.session, manager, item.id, now=NOW,
                                       report=services.ReportUpload("r.pdf", PDF),
                                       report_dir=tmp_path, max_bytes=1024)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    db.session.refresh(item)
    assert item.state == ServiceRequestState.IN_PROGRESS and item.report_path is None
