"""Access control, proven route by route: every URL of the web UI and of /api/v1 × every role.

One scene holds two organizations (A and B), the lab and another lab with a manager each, and
an admin. Every URL parameter names a concrete object: ``/bookings/<id>`` is A's booking,
``/statements/<id>`` is B's issued statement, ``/service-requests/<id>`` is A's completed request
with its report PDF, ``/ical/<secret>.ics`` is A's feed, and so on (see ``Scene.params``).

``MATRIX`` holds, for each route and method, the outcome each role gets. The test walks
``app.url_map``, so a route added without a row fails ``test_every_route_has_a_row``. Outcomes:

- ``200``, ``302``, ``401``, ``403``, ``404``, ``422`` …: exactly that status
- ``login``: a redirect to the sign-in page (web pages for anonymous visitors)
- ``ok``: allowed — anything but 401/403/404 or a redirect to sign in, and never a 5xx. State
  changes are sent with an empty body, so "allowed" may well be 200 (a form shown again), 302,
  409 or 422.

The roles, in the order they are tried (those refused first, so that an allowed change cannot
alter what a later refusal sees): anonymous, researcher of B, billing contact of B, manager of
another lab, researcher of A, manager of the lab, admin.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, url_for
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier
from labbook.accounts.services import create_api_token, password_reset_link
from labbook.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceMedium,
    InvoiceState,
    InvoiceStatement,
    StatementState,
    Voucher,
)
from labbook.booking.models import (
    Blackout,
    Booking,
    BookingChange,
    BookingSeries,
    BookingState,
    BookingSuspension,
    ChangeState,
    WaitlistEntry,
    WaitlistState,
)
from labbook.booking.training import grant_qualification
from labbook.calendars.services import Scope, create_feed_token
from labbook.catalogue.models import Owner, OwnerKind
from labbook.enterprises.models import (
    JoinRequest,
    JoinRequestState,
    OrganizationAdmin,
    Registration,
    RegistrationState,
)
from labbook.extensions import db
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from labbook.orders.models import (
    Attachment,
    IntakeStatus,
    LineState,
    Order,
    OrderLine,
    OrderState,
    Remains,
    Report,
    ReportLanguage,
    ReportState,
    Sample,
)
from labbook.privacy.models import DeletionRequest, DeletionState
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import (
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
    make_uscc,
    next_weekday,
    session_id,
)

#: Routes whose ``code`` is an owner unit's, not a lab's.
OWNER_ENDPOINTS = {"admin.owner_unit", "admin.add_agreement", "admin.add_owner_contact",
                   "admin.remove_owner_contact", "sharing.settlement",
                   "sharing.settlement_export", "api.owner_settlement"}
ROLES = ("anon", "res_b", "billing_b", "other_mgr", "res_a", "mgr", "admin")
PDF = b"%PDF-1.4\n% a test report\n"
MARK_A = "A-ONLY"  # in every text of A's objects, to look for in B's lists


class Scene:
    """All objects of the matrix, committed; ``params`` fills every URL parameter."""

    def __init__(self, app: Flask) -> None:
        now = dt.datetime.now(dt.UTC)
        self.lab = create_lab(code="NEM")
        self.other_lab = create_lab(code="FOOD")
        self.instrument = create_instrument(lab=self.lab, requires_approval=True)
        self.other_instrument = create_instrument(lab=self.other_lab)
        self.service = create_service(lab=self.lab, instruments=[self.instrument])
        self.org_a = create_organization(name=f"企业{MARK_A}", tier=PriceTier.PARTNER)
        self.org_b = create_organization(name="企业B")
        self.users = {
            "res_a": create_user(organization=self.org_a, name=f"研究员{MARK_A}"),
            "res_b": create_user(organization=self.org_b),
            "billing_b": create_user(organization=self.org_b),
            "other_mgr": create_manager(self.other_lab),
            "mgr": create_manager(self.lab),
            "admin": create_admin(),
        }
        self.org_b.billing_contact = self.users["billing_b"]
        res_a = self.users["res_a"]
        day = next_weekday(1)
        self.series = BookingSeries(instrument_id=self.instrument.id, user_id=res_a.id,
                                    frequency="weekly", count=1)
        db.session.add(self.series)
        self.booking = create_booking(instrument=self.instrument, user=res_a,
                                      state=BookingState.PENDING, series=self.series,
                                      purpose=f"用途{MARK_A}",
                                      start_at=lab_time(day, 10), end_at=lab_time(day, 11))
        self.booking_b = create_booking(instrument=self.instrument, user=self.users["res_b"],
                                        start_at=lab_time(day, 14), end_at=lab_time(day, 15))
        moved = create_booking(instrument=self.instrument, user=res_a,
                               start_at=lab_time(day, 16), end_at=lab_time(day, 17))
        self.change = BookingChange(
            booking=moved, requested_by=res_a, old_start_at=moved.start_at,
            old_end_at=moved.end_at, new_start_at=lab_time(day, 17),
            new_end_at=lab_time(day, 18), state=ChangeState.PENDING, note="",
            decision_note="", given_back_minutes=0, is_late=False, requested_at=now)
        db.session.add(self.change)
        self.entry = WaitlistEntry(
            instrument=self.instrument, user=res_a, window_start=lab_time(day, 14),
            window_end=lab_time(day, 15), minutes=60, purpose=f"候补{MARK_A}",
            state=WaitlistState.OFFERED, offer_start=lab_time(day, 14),
            offer_end=lab_time(day, 15), offer_expires_at=now + dt.timedelta(hours=1),
            offer_token="matrix-offer", created_at=now, updated_at=now)
        db.session.add(self.entry)
        self.suspension = BookingSuspension(
            user=res_a, lab=self.lab, starts_at=now - dt.timedelta(days=1),
            ends_at=now + dt.timedelta(days=6), no_shows=3, window_days=30, lift_note="")
        db.session.add(self.suspension)
        self.blackout = Blackout(lab=self.lab, start_at=lab_time(day + dt.timedelta(days=1), 8),
                                 end_at=lab_time(day + dt.timedelta(days=1), 9),
                                 reason="维护", created_by_id=self.users["mgr"].id)
        db.session.add(self.blackout)
        self.request = ServiceRequest(
            service=self.service, requester=res_a, organization=self.org_a, samples=2,
            sample_description=f"样品{MARK_A}", is_express=False, notes="",
            state=ServiceRequestState.COMPLETED, tier=PriceTier.PARTNER,
            quoted_unit_price=Decimal("80.00"), express_surcharge_percent=0,
            quoted_express_surcharge=Decimal("0.00"), quoted_total=Decimal("160.00"),
            decision_note="", created_at=now, updated_at=now, completed_at=now,
            report_path="matrix-report.pdf", report_filename="report.pdf",
            report_size=len(PDF), report_uploaded_at=now)
        db.session.add(self.request)
        db.session.commit()
        report_dir = app.config["LABBOOK_REPORT_DIR"]
        pathlib.Path(report_dir).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(report_dir) / "matrix-report.pdf").write_bytes(PDF)

        self.charge_a = create_charge(organization=self.org_a, lab=self.lab,
                                      reason=f"调整{MARK_A}")
        self.charge_b = create_charge(organization=self.org_b, lab=self.lab, reason="调整B")
        issued = {"state": StatementState.ISSUED, "issued_at": now}
        self.statement_a = create_statement([self.charge_a], number="LB-2026-AAAAAA", **issued)
        self.statement_b = create_statement([self.charge_b], **issued)
        self.rate_card = self.instrument.rate_cards[0]
        self.voucher = Voucher(organization_id=self.org_b.id, number="KJQ-B",
                               authority="科技局", face_value=Decimal("100.00"),
                               balance=Decimal("100.00"), share_percent=50, lab_ids=[],
                               kinds=[], valid_from=now.date(), valid_to=now.date(),
                               created_at=now)
        self.invoice = Invoice(organization_id=self.org_b.id, kind=InvoiceKind.ORDINARY,
                               medium=InvoiceMedium.PAPER, state=InvoiceState.ISSUED,
                               amount=Decimal("100.00"), title="企业B",
                               taxpayer_id=self.org_b.uscc, requested_at=now,
                               invoice_number="B-0001", issued_on=now.date(),
                               issued_amount=Decimal("100.00"), file_name="b.pdf",
                               file_type="application/pdf", file_content=PDF)
        self.invoice.covers = [InvoiceStatement(statement_id=self.statement_b.id,
                                                amount=Decimal("100.00"))]
        db.session.add_all([self.voucher, self.invoice])
        db.session.commit()

        self.qualification = grant_qualification(db.session, self.users["mgr"], res_a,
                                                 self.instrument, now=now)
        self.owner = Owner(code="OWNA", name_zh="所属单位", name_en="Owner",
                           kind=OwnerKind.UNIVERSITY)
        self.instrument.owner = self.owner
        self.fault = InstrumentFault(instrument=self.instrument, kind=FaultKind.PROBLEM,
                                     state=FaultState.OPEN, reported_by_id=res_a.id,
                                     reported_at=now, description=f"故障{MARK_A}")
        db.session.add_all([self.owner, self.fault])
        self.feed_token, self.feed_secret = create_feed_token(db.session, res_a,
                                                              Scope.parse("mine"), now=now)
        self.api_token, _secret = create_api_token(db.session, res_a, name="A's script",
                                                   now=now)
        db.session.commit()
        self.reset_token = password_reset_link(
            res_a, secret_key=app.config["SECRET_KEY"], base_url="http://x", max_age=3600,
            now=now).link.rsplit("/", 1)[-1]
        self.bearers: dict[str, dict[str, str]] = {}
        # A's researcher administers A; a registration and a request to join A wait.
        db.session.add(OrganizationAdmin(organization_id=self.org_a.id, user_id=res_a.id))
        self.registration = Registration(
            state=RegistrationState.PENDING, organization_name="新企业", uscc=make_uscc(77),
            address="焦作", contact_phone="0391", name="注册人", email="new@example.cn",
            locale="zh_CN", password_hash="x", licence=b"\x89PNG\r\n\x1a\n",
            licence_type="image/png", reason="")
        self.join_request = JoinRequest(
            organization=self.org_a, state=JoinRequestState.PENDING, name="申请人",
            email="joiner@example.cn", locale="zh_CN", password_hash="x", message="")
        # B's researcher asked for their data to be deleted.
        self.deletion = DeletionRequest(user=self.users["res_b"], state=DeletionState.PENDING,
                                        note="")
        db.session.add_all([self.registration, self.join_request, self.deletion])
        db.session.commit()
        self._testing_order(app, now)

    def _testing_order(self, app: Flask, now: dt.datetime) -> None:
        """A's completed testing order with a received sample, an issued report (its PDF on
        disk) and an attachment."""
        res_a = self.users["res_a"]
        self.order = Order(
            number="NEM-WT-2000-00001", lab_id=self.lab.id, organization=self.org_a,
            requester=res_a, state=OrderState.COMPLETED, remains=Remains.DISPOSE,
            report_language=ReportLanguage.ZH_CN, notes=f"备注{MARK_A}",
            contact_name=res_a.name, contact_email=res_a.email, tier=PriceTier.PARTNER,
            quoted_total=Decimal("80.00"), terms="条款", confirmed_at=now, created_at=now,
            updated_at=now, received_at=now, legacy_request_id=self.request.id)
        line = OrderLine(position=1, service=self.service, method=self.service.standard,
                         state=LineState.COMPLETED, unit_price=Decimal("80.00"),
                         express_surcharge_percent=0, express_surcharge=Decimal("0.00"),
                         total=Decimal("80.00"), completed_at=now)
        self.sample = Sample(position=1, name=f"样品{MARK_A}", quantity="1 kg",
                             number="NEM-2000-000001", intake_status=IntakeStatus.ACCEPTED,
                             received_at=now, retain_until=now.date())
        line.samples = [self.sample]
        self.order.lines = [line]
        db.session.add(self.order)
        db.session.flush()
        self.order_report = Report(
            order_id=self.order.id, number="NEM-BG-2000-00001", state=ReportState.ISSUED,
            language=ReportLanguage.ZH_CN, conclusion=f"结论{MARK_A}",
            verification_code="0123456789abcdef", prepared_by_id=self.users["mgr"].id,
            prepared_at=now, issued_on=now.date(), pdf_path="matrix-order-report.pdf",
            sha256="0" * 64)
        self.attachment = Attachment(order_id=self.order.id, path="matrix-attachment",
                                     filename="raw.csv", content_type="text/csv",
                                     size=len(PDF), sha256="0" * 64, uploaded_at=now)
        db.session.add_all([self.order_report, self.attachment])
        db.session.commit()
        files = pathlib.Path(app.config["LABBOOK_ORDER_FILES_DIR"])
        (files / "attachments").mkdir(parents=True, exist_ok=True)
        (files / "matrix-order-report.pdf").write_bytes(PDF)
        (files / "attachments" / "matrix-attachment").write_bytes(PDF)

    def bearer(self, role: str) -> dict[str, str]:
        if role == "anon":
            return {}
        if role not in self.bearers:
            _token, secret = create_api_token(db.session, self.users[role], name="matrix",
                                              now=dt.datetime.now(dt.UTC))
            db.session.commit()
            self.bearers[role] = {"Authorization": f"Bearer {secret}"}
        return self.bearers[role]

    def params(self, endpoint: str, arguments: set[str]) -> dict[str, Any]:
        token_id = self.api_token.id if endpoint == "accounts.revoke_token" \
            else self.feed_token.id
        values = {
            "booking_id": self.booking.id, "instrument_id": self.instrument.id,
            "statement_id": self.statement_b.id, "request_id": self.request.id,
            "token_id": token_id, "card_id": self.rate_card.id,
            "qualification_id": self.qualification.id, "blackout_id": self.blackout.id,
            "series_id": self.series.id, "user_id": self.users["res_a"].id,
            "organization_id": self.org_a.id, "service_id": self.service.id,
            "code": self.owner.code if endpoint in OWNER_ENDPOINTS else self.lab.code,
            "fault_id": self.fault.id, "secret": self.feed_secret, "token": self.reset_token,
            "name": "revenue", "file_format": "csv", "day": "2026-10-01",
            "session_id": 1, "enrolment_id": 1,
            "order_id": self.order.id, "line_id": self.order.lines[0].id,
            "sample_id": self.sample.id, "report_id": self.order_report.id,
            "attachment_id": self.attachment.id,
            "change_id": self.change.id, "decision": "approve", "entry_id": self.entry.id,
            "offer_token": self.entry.offer_token, "suspension_id": self.suspension.id,
            "registration_id": self.registration.id, "join_request_id": self.join_request.id,
            "deletion_id": self.deletion.id,
            "invoice_id": self.invoice.id, "voucher_id": self.voucher.id,
        }
        return {name: values[name] for name in arguments}


# -- running one request as one role ------------------------------------------------------------


def _rows(app: Flask) -> list[tuple[str, str, set[str]]]:
    """(endpoint, method, URL arguments) of every route but ``static``."""
    rows = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rows.append((rule.endpoint, method, set(rule.arguments)))
    return sorted(rows)


def _outcome(response) -> str:
    status = response.status_code
    # Signing in asked for: the sign-in page names the page asked for (a refused sign-in goes
    # back to the sign-in page as it was, after its redirect).
    if status in (301, 302, 303) and "/login?next=" in response.headers.get("Location", ""):
        return "login"
    return str(status)


def _bodies(scene: Scene) -> dict[str, dict[str, Any]]:
    """Minimal bodies for the state changes whose permission check comes after parsing."""
    day = next_weekday(2)
    start, end = lab_time(day, 16), lab_time(day, 17)
    return {
        "POST api.create_booking": {"instrument_id": scene.instrument.id,
                                    "start": start.isoformat(), "end": end.isoformat(),
                                    "purpose": "matrix"},
        "POST api.create_service_request": {"service_id": scene.service.id, "samples": 1,
                                            "sample_description": "matrix"},
        "POST api.create_blackout": {"lab": scene.lab.code, "start": start.isoformat(),
                                     "end": end.isoformat(), "reason": "matrix"},
        "POST api.grant_qualification": {"user_email": scene.users["res_b"].email,
                                         "instrument_id": scene.instrument.id},
        "POST api.create_adjustment": {"organization_id": scene.org_a.id,
                                       "lab": scene.lab.code, "amount": "10.00",
                                       "reason": "matrix"},
        "POST api.close_month": {"period": "2026-10"},
        "POST api.create_feed_token": {"scope": f"lab:{scene.lab.code}"},
        "POST api.add_rate_card": {"tier": "external", "effective_from": str(day),
                                   "hourly_rate": "120.00"},
        "POST api.reject_booking": {"note": "matrix"},
        "PATCH api.change_booking": {"end": end.isoformat()},
        "POST api.record_payment": {"organization_id": scene.org_b.id,
                                    "received_on": "2026-01-05", "amount": "1.00",
                                    "method": "cash", "statement_ids": [scene.statement_b.id]},
        "POST api.record_deposit": {"amount": "1.00"},
        "PUT api.update_billing_profile": {"invoice_title": "企业B"},
        "POST api.create_voucher": {"organization_id": scene.org_b.id, "number": "KJQ-M",
                                    "authority": "科技局", "face_value": "10.00",
                                    "share_percent": 50, "valid_from": str(day),
                                    "valid_to": str(day)},
        "POST api.request_invoice": {"organization_id": scene.org_b.id,
                                     "statement_ids": [scene.statement_b.id],
                                     "kind": "ordinary", "medium": "paper"},
        "POST api.refuse_invoice": {"reason": "matrix"},
        "POST api.issue_invoice": {"invoice_number": "M-1", "issued_on": str(day),
                                   "amount": "1.00"},
        "POST api.reverse_invoice": {"red_number": "M-R", "issued_on": "2026-01-05",
                                     "reason": "matrix"},
        "POST api.reject_service_request": {"note": "matrix"},
        "PUT api.put_holiday": {"kind": "holiday", "festival": "national_day"},
        "POST api.create_training_session": {
            "instrument_id": scene.instrument.id, "starts_at": start.isoformat(),
            "ends_at": end.isoformat(), "trainer_email": scene.users["mgr"].email,
            "capacity": 2},
        "POST api.decline_training_request": {"note": "matrix"},
        "POST api.record_training_attendance": {"attended": True},
        "POST api.record_training_exam": {"passed": False},
    }


def _order_bodies(scene: Scene) -> dict[str, dict[str, Any]]:
    order = {"lines": [{"service_id": scene.service.id,
                        "samples": [{"name": "matrix", "quantity": "1"}]}],
             "terms_confirmed": True}
    return {
        "POST api.quote_order": order, "POST api.create_order": order,
        "POST api.receive_order_samples": {"samples": []},
        "POST api.assign_order_line": {"analyst_id": scene.users["mgr"].id},
        "POST api.record_order_results": {"results": []},
        "POST api.book_order_line": {"instrument_id": scene.instrument.id,
                                     "start": "2030-01-07T10:00:00+08:00",
                                     "end": "2030-01-07T11:00:00+08:00"},
        "POST api.record_sample_disposition": {"disposition": "disposed"},
        "POST api.prepare_order_report": {"conclusion": "matrix"},
        "POST api.amend_order_report": {"conclusion": "matrix", "reason": "matrix"},
        "POST api.withdraw_order_report": {"reason": "matrix"},
    }


def _query(scene: Scene) -> dict[str, str]:
    day = next_weekday(0)
    start, end = lab_time(day, 0), lab_time(day + dt.timedelta(days=7), 0)
    window = urlencode({"start": start.isoformat(), "end": end.isoformat()})
    days = urlencode({"start": day.isoformat(), "end": (day + dt.timedelta(days=30)).isoformat()})
    return {"GET api.availability": window, "GET booking.instrument_events": window,
            "GET api.working_days": days,
            "GET api.working_days_after": urlencode({"start": day.isoformat(), "days": 5})}


def _request(client, scene: Scene, role: str, method: str, url: str, *, api: bool,
             body: dict[str, Any] | None = None):
    signed_in = session_id(scene.users[role]) if role != "anon" and not api else None
    with client.session_transaction() as session:
        session.clear()
        if signed_in is not None:
            session["_user_id"] = signed_in
            session["_fresh"] = True
    headers = scene.bearer(role) if api else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        if api:
            kwargs["json"] = body or {}
        else:
            kwargs["data"] = body or {}
    return client.open(url, method=method, **kwargs)


def _matches(expected: str, actual: str) -> bool:
    if expected == "ok":
        return actual not in ("401", "403", "404", "login") and not actual.startswith("5")
    return expected == actual


#: Rows whose 200 for an outsider legitimately holds A's name: the feed answers whoever holds
#: A's secret URL (that secret *is* the permission), and a manager adding an adjustment chooses
#: the organization to charge from all organizations' names (no other data of theirs is shown).
LEAK_EXEMPT = {"GET calendars.feed", "GET billing.adjust"}
OUTSIDERS = ("anon", "res_b", "billing_b", "other_mgr")

MATRIX: dict[str, str] = {
    # row                                            anon  res_b bill_b oth_m res_a mgr  admin
    "POST accounts.create_token":                      "login ok    ok    ok    ok    ok    ok",
    "POST accounts.email_preferences":                 "login ok    ok    ok    ok    ok    ok",
    "GET accounts.forgot_password":                    "200   200   200   200   200   200   200",
    "POST accounts.forgot_password":                   "ok    ok    ok    ok    ok    ok    ok",
    "GET accounts.login":                              "200   302   302   302   302   302   302",
    "POST accounts.login":                             "ok    ok    ok    ok    ok    ok    ok",
    "POST accounts.logout":                            "login ok    ok    ok    ok    ok    ok",
    "GET accounts.profile":                            "login 200   200   200   200   200   200",
    "GET accounts.reset_password":                     "200   200   200   200   200   200   200",
    "POST accounts.reset_password":                    "ok    ok    ok    ok    ok    ok    ok",
    "POST accounts.revoke_token":                      "login 404   404   404   ok    404   404",
    "POST accounts.switch_language":                   "ok    ok    ok    ok    ok    ok    ok",
    "POST admin.activate_user":                        "login 403   403   403   403   403   ok",
    "GET admin.audit_log":                             "login 403   403   403   403   403   200",
    "POST admin.cancel_instrument_bookings":           "login 403   403   404   403   ok    ok",
    "POST admin.catalogue_apply":                      "login 403   403   403   403   403   ok",
    "GET admin.catalogue_import":                      "login 403   403   403   403   403   200",
    "POST admin.catalogue_preview":                    "login 403   403   403   403   403   ok",
    "POST admin.deactivate_user":                      "login 403   403   403   403   403   ok",
    "GET admin.edit_instrument":                       "login 403   403   404   403   200   200",
    "POST admin.edit_instrument":                      "login 403   403   404   403   ok    ok",
    "PATCH api.change_booking":                        "401   404   404   404   ok    ok    ok",
    "POST api.approve_change":                         "401   404   404   404   403   ok    ok",
    "POST api.reject_change":                          "401   404   404   404   403   ok    ok",
    "POST api.join_waitlist":                          "401   ok    ok    ok    ok    ok    ok",
    "GET api.my_waitlist":                             "401   200   200   200   200   200   200",
    "DELETE api.leave_waitlist":                       "401   404   404   404   ok    404   404",
    "POST api.claim_offer":                            "401   404   404   404   ok    404   404",
    "GET api.list_suspensions":                        "401   200   200   200   200   200   200",
    "POST api.lift_suspension":                        "401   404   404   404   403   ok    ok",
    "POST booking.change_booking":                     "login 404   404   404   ok    ok    ok",
    "POST booking.decide_change":                      "login 404   404   404   403   ok    ok",
    "GET booking.join_waitlist":                       "login 200   200   200   200   200   200",
    "POST booking.join_waitlist":                      "login ok    ok    ok    ok    ok    ok",
    "POST booking.leave_waitlist":                     "login 404   404   404   ok    404   404",
    "GET booking.claim_offer":                         "login 404   404   404   200   404   404",
    "POST booking.claim_offer":                        "login 404   404   404   ok    404   404",
    "GET manage.discipline_page":                      "login 403   403   200   403   200   200",
    "POST manage.update_discipline":                   "login 403   403   404   403   ok    ok",
    "POST manage.update_contact":                      "login 403   403   404   403   ok    ok",
    "POST manage.lift_suspension":                     "login 403   403   404   403   ok    ok",
    "GET admin.edit_organization":                     "login 403   403   403   403   403   200",
    "POST admin.edit_organization":                    "login 403   403   403   403   403   ok",
    "GET admin.edit_service":                          "login 403   403   404   403   200   200",
    "POST admin.edit_service":                         "login 403   403   404   403   ok    ok",
    "GET admin.edit_user":                             "login 403   403   403   403   403   200",
    "POST admin.edit_user":                            "login 403   403   403   403   403   ok",
    "GET admin.index":                                 "login 403   403   200   403   200   200",
    "GET admin.instrument_bookings":                   "login 403   403   404   403   200   200",
    "GET admin.instrument_status":                     "login 403   403   404   403   200   200",
    "POST admin.instrument_status":                    "login 403   403   404   403   ok    ok",
    "GET admin.instruments":                           "login 403   403   200   403   200   200",
    "GET admin.new_instrument":                        "login 403   403   404   403   200   200",
    "POST admin.new_instrument":                       "login 403   403   404   403   ok    ok",
    "GET admin.new_organization":                      "login 403   403   403   403   403   200",
    "POST admin.new_organization":                     "login 403   403   403   403   403   ok",
    "GET admin.new_service":                           "login 403   403   404   403   200   200",
    "POST admin.new_service":                          "login 403   403   404   403   ok    ok",
    "GET admin.new_user":                              "login 403   403   403   403   403   200",
    "POST admin.new_user":                             "login 403   403   403   403   403   ok",
    "POST admin.offer_service":                        "login 403   403   404   403   ok    ok",
    "GET admin.organizations":                         "login 403   403   403   403   403   200",
    "POST admin.retire_service":                       "login 403   403   404   403   ok    ok",
    "GET admin.services":                              "login 403   403   200   403   200   200",
    "POST admin.user_reset_link":                      "login 403   403   403   403   403   ok",
    "GET admin.users":                                 "login 403   403   403   403   403   200",
    "POST api.accept_service_request":                 "401   404   404   404   410   410   410",
    "POST api.add_rate_card":                          "401   403   403   403   403   ok    ok",
    "POST api.approve_booking":                        "401   404   404   404   403   ok    ok",
    "GET api.availability":                            "200   200   200   200   200   200   200",
    "GET api.booking_ics":                             "401   404   404   404   200   200   200",
    "POST api.cancel_booking":                         "401   404   404   404   ok    ok    ok",
    "POST api.cancel_service_request":                 "401   404   404   404   410   410   410",
    "POST api.check_in":                               "401   404   404   404   ok    ok    ok",
    "POST api.check_out":                              "401   404   404   404   ok    ok    ok",
    "POST api.close_month":                            "401   403   403   403   403   403   ok",
    "POST api.complete_service_request":               "401   404   404   404   410   410   410",
    "POST api.create_adjustment":                      "401   403   403   403   403   ok    ok",
    "POST api.create_blackout":                        "401   403   403   403   403   ok    ok",
    "POST api.create_booking":                         "401   ok    ok    ok    ok    ok    ok",
    "POST api.create_feed_token":                      "401   403   403   403   403   ok    ok",
    "POST api.create_service_request":                 "401   410   410   410   410   410   410",
    "DELETE api.delete_feed_token":                    "401   404   404   404   ok    404   404",
    "GET api.get_booking":                             "401   404   404   404   200   200   200",
    "GET api.get_instrument":                          "200   200   200   200   200   200   200",
    "GET api.get_service":                             "200   200   200   200   200   200   200",
    "GET api.get_service_request":                     "401   404   404   404   200   200   200",
    "GET api.get_service_request_report":              "401   404   404   404   200   200   200",
    "GET api.get_statement":                           "401   404   200   404   404   200   200",
    "GET api.get_statement_csv":                       "401   404   200   404   404   200   200",
    "GET api.get_statement_xlsx":                      "401   404   200   404   404   200   200",
    "POST api.grant_qualification":                    "401   403   403   403   403   ok    ok",
    "POST api.issue_statement":                        "401   404   403   404   404   403   ok",
    "GET api.list_bookings":                           "401   200   200   200   200   200   200",
    "GET api.list_charges":                            "401   403   403   200   403   200   200",
    "GET api.list_feed_tokens":                        "401   200   200   200   200   200   200",
    "GET api.list_instruments":                        "200   200   200   200   200   200   200",
    "GET api.list_labs":                               "200   200   200   200   200   200   200",
    "GET api.list_rate_cards":                         "200   200   200   200   200   200   200",
    "GET api.list_service_requests":                   "401   200   200   200   200   200   200",
    "GET api.list_services":                           "200   200   200   200   200   200   200",
    "GET api.list_statements":                         "401   200   200   200   200   200   200",
    "POST api.mark_no_show":                           "401   404   404   404   403   ok    ok",
    "POST api.mark_statement_paid":                    "401   404   403   404   404   403   ok",
    "GET api.get_notification_channels":               "401   200   200   200   200   200   200",
    "GET api.get_organization":                        "401   403   403   403   200   403   403",
    "POST api.invite_colleague":                       "401   403   403   403   ok    403   403",
    "GET api.list_registrations":                      "401   403   403   403   403   403   200",
    "GET api.my_personal_data":                        "401   200   200   200   200   200   200",
    "POST api.approve_registration":                   "401   403   403   403   403   403   ok",
    "POST api.reject_registration":                    "401   403   403   403   403   403   ok",
    "DELETE api.remove_member":                        "401   403   403   403   ok    403   403",
    "POST api.request_deletion":                       "401   ok    ok    ok    ok    ok    ok",
    "PUT api.set_notification_channels":               "401   ok    ok    ok    ok    ok    ok",
    "GET api.openapi_document":                        "200   200   200   200   200   200   200",
    "POST api.reject_booking":                         "401   404   404   404   403   ok    ok",
    "POST api.reject_service_request":                 "401   404   404   404   410   410   410",
    "DELETE api.revoke_qualification":                 "401   404   404   404   404   ok    ok",
    "POST api.start_service_request":                  "401   404   404   404   410   410   410",
    "DELETE api.withdraw_rate_card":                   "401   403   403   403   403   ok    ok",
    "POST billing.add_rate_card":                      "login 403   403   403   403   ok    ok",
    "GET billing.adjust":                              "login 403   403   200   403   200   200",
    "POST billing.adjust":                             "login 403   403   ok    403   ok    ok",
    "POST billing.adjust_statement":                   "login 404   403   404   404   ok    ok",
    "GET billing.charges":                             "login 403   403   200   403   200   200",
    "POST billing.close_month":                        "login 403   403   403   403   403   ok",
    "POST billing.issue_statement":                    "login 403   403   403   403   403   ok",
    "POST billing.mark_paid":                          "login 403   403   403   403   403   ok",
    "GET billing.rates":                               "login 403   403   403   403   200   200",
    "GET billing.statement_csv":                       "login 404   200   404   404   200   200",
    "GET billing.statement_detail":                    "login 404   200   404   404   200   200",
    "GET billing.statement_xlsx":                      "login 404   200   404   404   200   200",
    "GET billing.statements":                          "login 200   200   200   200   200   200",
    "POST billing.withdraw_rate_card":                 "login 403   403   403   403   ok    ok",
    "POST booking.book":                               "login ok    ok    ok    ok    ok    ok",
    "GET booking.booking_detail":                      "login 404   404   404   200   200   200",
    "POST booking.cancel_booking":                     "login 404   404   404   ok    ok    ok",
    "POST booking.cancel_series":                      "login 404   404   404   ok    ok    ok",
    "POST booking.check_booking":                      "401   ok    ok    ok    ok    ok    ok",
    "POST booking.check_in":                           "login 404   404   404   ok    ok    ok",
    "POST booking.check_out":                          "login 404   404   404   ok    ok    ok",
    "GET booking.instrument_calendar":                 "200   200   200   200   200   200   200",
    "GET booking.instrument_events":                   "200   200   200   200   200   200   200",
    "GET booking.lab_day":                             "200   200   200   200   200   200   200",
    "GET booking.my_bookings":                         "login 200   200   200   200   200   200",
    "GET calendars.booking_ics":                       "login 404   404   404   200   200   200",
    "POST calendars.create_feed":                      "login ok    ok    ok    ok    ok    ok",
    "GET calendars.feed":                              "200   200   200   200   200   200   200",
    "GET calendars.feeds":                             "login 200   200   200   200   200   200",
    "POST calendars.revoke_feed":                      "login 404   404   404   ok    404   404",
    "POST calendars.rotate_feed":                      "login 404   404   404   ok    404   404",
    "GET catalogue.home":                              "200   200   200   200   200   200   200",
    "GET catalogue.instrument_detail":                 "200   200   200   200   200   200   200",
    "GET catalogue.instrument_list":                   "200   200   200   200   200   200   200",
    "GET catalogue.service_list":                      "200   200   200   200   200   200   200",
    "GET catalogue.search_all":                        "200   200   200   200   200   200   200",
    "GET catalogue.suggestions":                       "200   200   200   200   200   200   200",
    "DELETE api.delete_holiday":                       "401   403   403   403   403   403   404",
    "GET api.get_holiday_policy":                      "200   200   200   200   200   200   200",
    "GET api.list_holidays":                           "200   200   200   200   200   200   200",
    "PUT api.put_holiday":                             "401   403   403   403   403   403   ok",
    "PUT api.put_holiday_policy":                      "401   403   403   403   403   ok    ok",
    "POST api.seed_holidays":                          "401   403   403   403   403   403   ok",
    "GET api.working_days":                            "200   200   200   200   200   200   200",
    "GET api.working_days_after":                      "200   200   200   200   200   200   200",
    "POST holidays.delete_day":                        "login 403   403   403   403   403   ok",
    "GET holidays.index":                              "login 403   403   200   403   200   200",
    "POST holidays.save_day":                          "login 403   403   403   403   403   ok",
    "POST holidays.save_policy":                       "login 403   403   404   403   ok    ok",
    "POST holidays.seed":                              "login 403   403   403   403   403   ok",
    "GET enterprises.accept_invitation":               "400   400   400   400   400   400   400",
    "POST enterprises.accept_invitation":              "400   400   400   400   400   400   400",
    "POST enterprises.accept_join_request":            "login 404   404   404   ok    404   ok",
    "POST enterprises.approve_registration":           "login 403   403   403   403   403   ok",
    "POST enterprises.billing_contact":                "login 403   403   403   ok    403   403",
    "GET enterprises.confirm_email":                   "400   400   400   400   400   400   400",
    "POST enterprises.decline_join_request":           "login 404   404   404   ok    404   ok",
    "POST enterprises.invite":                         "login 403   403   403   ok    403   403",
    "GET enterprises.join":                            "200   200   200   200   200   200   200",
    "POST enterprises.join":                           "ok    ok    ok    ok    ok    ok    ok",
    "POST enterprises.make_admin":                     "login 403   403   403   ok    403   403",
    "GET enterprises.organization":                    "login 403   403   403   200   403   403",
    "GET enterprises.register":                        "200   200   200   200   200   200   200",
    "POST enterprises.register":                       "ok    ok    ok    ok    ok    ok    ok",
    "GET enterprises.registration_detail":             "login 403   403   403   403   403   200",
    "GET enterprises.registration_licence":            "login 403   403   403   403   403   200",
    "GET enterprises.registrations":                   "login 403   403   403   403   403   200",
    "POST enterprises.reject_registration":            "login 403   403   403   403   403   ok",
    "POST enterprises.remove_member":                  "login 403   403   403   ok    403   403",
    "POST mobile.check_in":                            "login ok    ok    ok    ok    ok    ok",
    "POST mobile.check_out":                           "login ok    ok    ok    ok    ok    ok",
    "GET mobile.instrument":                           "200   200   200   200   200   200   200",
    "GET mobile.instrument_label":                     "login 403   403   404   403   200   200",
    "GET notifications.lab_robot":                     "login 403   403   404   403   200   200",
    "GET notifications.preferences":                   "login 200   200   200   200   200   200",
    "POST notifications.save_lab_robot":               "login 403   403   404   403   ok    ok",
    "POST notifications.save_preferences":             "login ok    ok    ok    ok    ok    ok",
    "POST privacy.complete_request":                   "login 403   403   403   403   403   ok",
    "GET privacy.my_data":                             "login 200   200   200   200   200   200",
    "GET privacy.my_data_json":                        "login 200   200   200   200   200   200",
    "GET privacy.my_data_zip":                         "login 200   200   200   200   200   200",
    "GET privacy.notice":                              "200   200   200   200   200   200   200",
    "POST privacy.reject_request":                     "login 403   403   403   403   403   ok",
    "POST privacy.request_deletion":                   "login ok    ok    ok    ok    ok    ok",
    "GET privacy.requests":                            "login 403   403   403   403   403   200",
    "POST api.cancel_training_enrolment":               "401   404   404   404   404   404   404",
    "POST api.create_training_request":                 "401   ok    ok    ok    ok    ok    ok",
    "POST api.create_training_session":                 "401   403   403   403   403   ok    ok",
    "POST api.decline_training_request":                "401   404   404   404   404   404   404",
    "POST api.enrol_in_training_session":               "401   404   404   404   404   404   404",
    "GET api.get_training_session":                     "404   404   404   404   404   404   404",
    "GET api.list_training_requests":                   "401   200   200   200   200   200   200",
    "GET api.list_training_sessions":                   "200   200   200   200   200   200   200",
    "POST api.record_training_attendance":              "401   404   404   404   404   404   404",
    "POST api.record_training_exam":                    "401   404   404   404   404   404   404",
    "POST api.withdraw_training_request":               "401   404   404   404   404   404   404",
    "POST training.cancel_enrolment":                   "login ok    ok    ok    ok    ok    ok",
    "POST training.create_request":                     "login ok    ok    ok    ok    ok    ok",
    "POST training.create_session":                     "login ok    ok    ok    ok    ok    ok",
    "POST training.decline_request":                    "login ok    ok    ok    ok    ok    ok",
    "POST training.enrol_someone":                      "login 404   404   404   404   404   404",
    "POST training.exam_failed":                        "login ok    ok    ok    ok    ok    ok",
    "POST training.exam_passed":                        "login ok    ok    ok    ok    ok    ok",
    "GET training.index":                               "login 200   200   200   200   200   200",
    "POST training.request_for_instrument":             "login ok    ok    ok    ok    ok    ok",
    "POST training.join_session":                       "login ok    ok    ok    ok    ok    ok",
    "POST training.mark_absent":                        "login ok    ok    ok    ok    ok    ok",
    "POST training.mark_attended":                      "login ok    ok    ok    ok    ok    ok",
    "GET training.session_detail":                      "login 404   404   404   404   404   404",
    "POST training.withdraw_request":                   "login ok    ok    ok    ok    ok    ok",
    "GET healthz":                                     "200   200   200   200   200   200   200",
    "GET manage.approvals":                            "login 403   403   200   403   200   200",
    "POST manage.blackout_cancel_bookings":            "login 403   403   404   403   ok    ok",
    "GET manage.blackout_detail":                      "login 403   403   404   403   200   200",
    "GET manage.blackouts":                            "login 403   403   200   403   200   200",
    "POST manage.correct_actual_times":                "login 403   403   404   403   ok    ok",
    "POST manage.create_blackout":                     "login 403   403   ok    403   ok    ok",
    "POST manage.decide":                              "login 403   403   ok    403   ok    ok",
    "POST manage.grant_qualification":                 "login 403   403   ok    403   ok    ok",
    "POST manage.mark_no_show":                        "login 403   403   404   403   ok    ok",
    "GET manage.qualifications":                       "login 403   403   200   403   200   200",
    "POST manage.revoke_qualification":                "login 403   403   404   403   ok    ok",
    "POST manage.revoke_qualifications":               "login 403   403   ok    403   ok    ok",
    "GET manage.today":                                "login 403   403   404   403   200   200",
    "GET manage.today_default":                        "login 403   403   302   403   302   302",
    "GET readyz":                                      "200   200   200   200   200   200   200",
    "GET reports.dashboard":                           "login 403   403   200   403   200   200",
    "GET reports.export":                              "login 403   403   200   403   200   200",
    "GET reports.index":                               "login 302   302   302   302   302   302",
    "GET reports.institute_dashboard":                 "login 403   403   403   403   403   200",
    "GET reports.report":                              "login 403   403   200   403   200   200",
    "POST testing.accept_request":                     "login 404   404   404   410   410   410",
    "POST testing.cancel_request":                     "login 404   404   404   410   410   410",
    "POST testing.complete_request":                   "login 404   404   404   410   410   410",
    "GET testing.download_report":                     "login 404   404   404   200   200   200",
    "GET testing.manage_queue":                        "login 302   302   302   302   302   302",
    "GET testing.my_requests":                         "login 302   302   302   302   302   302",
    "POST testing.reject_request":                     "login 404   404   404   410   410   410",
    "GET testing.service_detail":                      "200   200   200   200   200   200   200",
    "GET testing.request_detail":                      "login 404   404   404   302   302   302",
    "POST testing.request_service":                    "login 303   303   303   303   303   303",
    "POST testing.start_request":                      "login 404   404   404   410   410   410",
    "GET api.open_sharing_statistics":                 "401   403   403   200   403   200   200",
    "GET api.settlements_overview_json":               "401   403   403   403   403   403   200",
    "GET api.owner_settlement":                        "401   403   403   403   403   403   200",
    "POST api.report_fault":                           "401   ok    ok    ok    ok    ok    ok",
    "GET api.list_faults":                             "401   200   200   200   200   200   200",
    "GET api.get_fault":                               "401   404   404   404   200   200   200",
    "POST api.answer_fault":                           "401   404   404   404   404   ok    ok",
    "POST api.start_fault_maintenance":                "401   404   404   404   404   ok    ok",
    "POST api.close_fault":                            "401   404   404   404   404   ok    ok",
    "GET faults.report":                               "login 200   200   200   200   200   200",
    "POST faults.report":                              "login ok    ok    ok    ok    ok    ok",
    "GET faults.index":                                "login 403   403   200   403   200   200",
    "GET faults.detail":                               "login 403   403   404   403   200   200",
    "POST faults.answer":                              "login 403   403   404   403   ok    ok",
    "POST faults.maintenance":                         "login 403   403   404   403   ok    ok",
    "POST faults.close":                               "login 403   403   404   403   ok    ok",
    "GET faults.log":                                  "login 403   403   404   403   200   200",
    "POST faults.log":                                 "login 403   403   404   403   ok    ok",
    "GET sharing.statistics":                          "login 403   403   200   403   200   200",
    "GET sharing.statistics_export":                   "login 403   403   200   403   200   200",
    "GET sharing.settlements_overview":                "login 403   403   403   403   403   200",
    "GET sharing.settlement":                          "login 403   403   403   403   403   200",
    "GET sharing.settlement_export":                   "login 403   403   403   403   403   200",
    "GET sharing.owner_home":                          "login 403   403   403   403   403   403",
    "GET sharing.public_page":                         "200   200   200   200   200   200   200",
    "GET admin.owner_units":                           "login 403   403   403   403   403   200",
    "GET admin.owner_unit":                            "login 403   403   403   403   403   200",
    "POST admin.add_agreement":                        "login 403   403   403   403   403   ok",
    "POST admin.add_owner_contact":                    "login 403   403   403   403   403   ok",
    "POST admin.remove_owner_contact":                 "login 403   403   403   403   403   ok",
    # money
    "POST api.apply_vouchers":                         "401   404   403   404   404   403   ok",
    "POST api.create_voucher":                         "401   403   403   403   403   403   ok",
    "GET api.get_balance_history":                     "401   404   404   404   404   404   200",
    "GET api.get_billing_profile":                     "401   404   404   404   404   404   200",
    "GET api.get_invoice":                             "401   404   200   404   404   404   200",
    "GET api.get_invoice_file":                        "401   404   200   404   404   404   200",
    "GET api.get_invoices_xlsx":                       "401   403   403   403   403   403   200",
    "GET api.get_receivables":                         "401   403   403   403   403   403   200",
    "GET api.get_receivables_xlsx":                    "401   403   403   403   403   403   200",
    "GET api.get_redemption":                          "401   403   403   403   403   403   422",
    "GET api.get_redemption_xlsx":                     "401   403   403   403   403   403   422",
    "GET api.get_redemption_pdf":                      "401   403   403   403   403   403   422",
    "GET api.get_statement_pdf":                       "401   404   200   404   404   404   200",
    "GET billing.statement_pdf":                       "login 404   200   404   404   404   200",
    "GET money.redemption_pdf":                        "login 403   403   403   403   403   404",
    "GET api.get_voucher":                             "401   404   200   404   404   404   200",
    "POST api.issue_invoice":                          "401   404   403   404   404   404   ok",
    "GET api.list_invoices":                           "401   200   200   200   200   200   200",
    "GET api.list_payments":                           "401   403   403   403   403   403   200",
    "GET api.list_vouchers":                           "401   403   403   403   403   403   200",
    "POST api.pay_statement_from_balance":             "401   403   403   403   403   403   ok",
    "POST api.record_deposit":                         "401   404   404   404   404   404   ok",
    "POST api.record_payment":                         "401   403   403   403   403   403   ok",
    "POST api.refuse_invoice":                         "401   404   403   404   404   404   ok",
    "POST api.request_invoice":                        "401   404   ok    404   404   404   ok",
    "POST api.reverse_invoice":                        "401   404   403   404   404   404   ok",
    "PUT api.update_billing_profile":                  "401   404   404   404   404   404   ok",
    "GET billing.verify_statement":                    "404   404   404   404   404   404   404",
    "POST money.create_voucher":                       "login 403   403   403   403   403   ok",
    "GET money.invoice_detail":                        "login 404   200   404   404   404   200",
    "GET money.invoice_file":                          "login 404   200   404   404   404   200",
    "GET money.invoices_page":                         "login 200   200   200   200   200   200",
    "GET money.invoices_xlsx":                         "login 403   403   403   403   403   200",
    "POST money.issue_invoice":                        "login 403   403   403   403   403   ok",
    "GET money.organization":                          "login 404   404   404   404   404   200",
    "POST money.pay_from_balance":                     "login 403   403   403   403   403   ok",
    "GET money.receivables_page":                      "login 403   403   403   403   403   200",
    "GET money.receivables_xlsx":                      "login 403   403   403   403   403   200",
    "POST money.record_deposit":                       "login 403   403   403   403   403   ok",
    "POST money.record_payment":                       "login 403   403   403   403   403   ok",
    "GET money.redemption":                            "login 403   403   403   403   403   200",
    "GET money.redemption_xlsx":                       "login 403   403   403   403   403   404",
    "POST money.refuse_invoice":                       "login 403   403   403   403   403   ok",
    "POST money.request_invoice":                      "login 404   404   404   404   404   ok",
    "POST money.reverse_invoice":                      "login 403   403   403   403   403   ok",
    "POST money.update_details":                       "login 404   404   404   404   404   ok",
    "POST money.update_settings":                      "login 403   403   403   403   403   ok",
    "GET money.voucher_detail":                        "login 404   200   404   404   404   200",
}

# Testing orders: A's completed order with an issued report (Scene._testing_order). Managers
# are no analysts, reviewers or signatories unless their lab grants it, so the report workflow
# refuses them too.
MATRIX.update({
    # row                                            anon  res_b bill_b oth_m res_a mgr  admin
    "GET orders.my_orders":                            "login 200   200   200   200   200   200",
    "GET orders.new_order":                            "login 200   200   200   200   200   200",
    "POST orders.submit_order":                        "login ok    ok    ok    ok    ok    ok",
    "POST orders.order_quote":                         "login 200   200   200   200   200   200",
    "GET orders.order_detail":                         "login 404   404   404   200   200   200",
    "POST orders.cancel_order":                        "login 404   404   404   ok    ok    ok",
    "GET orders.agreement_pdf":                        "login 404   404   404   200   200   200",
    "GET orders.labels_pdf":                           "login 404   404   404   403   200   200",
    "GET orders.report_pdf":                           "login 404   404   404   200   200   200",
    "POST orders.receive_samples":                     "login 404   404   404   403   ok    ok",
    "POST orders.assign_line":                         "login 404   404   404   403   ok    ok",
    "POST orders.start_line":                          "login 404   404   404   403   ok    ok",
    "POST orders.book_line":                           "login 404   404   404   403   ok    ok",
    "POST orders.record_results":                      "login 404   404   404   403   ok    ok",
    "POST orders.complete_line":                       "login 404   404   404   403   ok    ok",
    "POST orders.add_attachment":                      "login 404   404   404   403   ok    ok",
    "GET orders.attachment_file":                      "login 404   404   404   403   200   200",
    "POST orders.prepare_report":                      "login 404   404   404   403   403   403",
    "POST orders.amend_report":                        "login 404   404   404   403   403   403",
    "POST orders.review_report":                       "login 404   404   404   403   403   403",
    "POST orders.approve_report":                      "login 404   404   404   403   403   403",
    "POST orders.withdraw_report":                     "login 404   404   404   403   ok    ok",
    "POST orders.dispose_sample":                      "login 404   404   404   403   ok    ok",
    "GET orders.lab_queue":                            "login 404   404   200   404   200   200",
    "GET orders.lab_testing":                          "login 404   404   404   404   200   200",
    "POST orders.save_lab_testing":                    "login 404   404   404   404   ok    ok",
    "POST orders.save_lab_staff":                      "login 404   404   404   404   ok    ok",
    "GET orders.service_testing":                      "login 404   404   404   404   200   200",
    "POST orders.save_service_testing":                "login 404   404   404   404   ok    ok",
    "GET orders.verify_form":                          "200   200   200   200   200   200   200",
    "GET orders.verify":                               "404   404   404   404   404   404   404",
    "POST api.quote_order":                            "401   ok    ok    ok    ok    ok    ok",
    "POST api.create_order":                           "401   ok    ok    ok    ok    ok    ok",
    "GET api.list_orders":                             "401   200   200   200   200   200   200",
    "GET api.get_order":                               "401   404   404   404   200   200   200",
    "POST api.cancel_order":                           "401   404   404   404   ok    ok    ok",
    "GET api.get_order_agreement":                     "401   404   404   404   200   200   200",
    "GET api.get_order_labels":                        "401   404   404   404   403   200   200",
    "POST api.receive_order_samples":                  "401   404   404   404   403   ok    ok",
    "POST api.assign_order_line":                      "401   404   404   404   403   ok    ok",
    "POST api.start_order_line":                       "401   404   404   404   403   ok    ok",
    "POST api.book_order_line":                        "401   404   404   404   403   ok    ok",
    "POST api.record_order_results":                   "401   404   404   404   403   ok    ok",
    "POST api.complete_order_line":                    "401   404   404   404   403   ok    ok",
    "POST api.record_sample_disposition":              "401   404   404   404   403   ok    ok",
    "POST api.prepare_order_report":                   "401   404   404   404   403   403   403",
    "POST api.amend_order_report":                     "401   404   404   404   403   403   403",
    "POST api.review_order_report":                    "401   404   404   404   403   403   403",
    "POST api.approve_order_report":                   "401   404   404   404   403   403   403",
    "POST api.withdraw_order_report":                  "401   404   404   404   403   ok    ok",
    "GET api.get_order_report_pdf":                    "401   404   404   404   200   200   200",
    "GET api.verify_report":                           "404   404   404   404   404   404   404",
    "GET api.verify_report_number":                    "404   404   404   404   404   404   404",
})


@pytest.fixture(autouse=True)
def _report_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setitem(app.config, "LABBOOK_ORDER_FILES_DIR", str(tmp_path / "orders"))


def test_every_route_has_a_row(app):
    routes = {f"{method} {endpoint}" for endpoint, method, _args in _rows(app)}
    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "rows in MATRIX without a route"
    assert all(len(outcomes.split()) == len(ROLES) for outcomes in MATRIX.values())


@pytest.mark.parametrize("row", sorted(MATRIX))
def test_route_access(app, client, row):
    scene = Scene(app)
    method, endpoint = row.split()
    arguments = next(args for e, m, args in _rows(app) if (e, m) == (endpoint, method))
    with app.test_request_context():
        url = url_for(endpoint, **scene.params(endpoint, arguments))
    if row in _query(scene):
        url += "?" + _query(scene)[row]
    body = (_bodies(scene) | _order_bodies(scene)).get(row)
    wrong = []
    for role, expected in zip(ROLES, MATRIX[row].split(), strict=True):
        response = _request(client, scene, role, method, url, api=endpoint.startswith("api."),
                            body=body)
        actual = _outcome(response)
        data = response.get_data()
        response.close()
        if not _matches(expected, actual):
            wrong.append(f"{role}: expected {expected}, got {actual}")
        elif (role in OUTSIDERS and method == "GET" and response.status_code == 200
              and row not in LEAK_EXEMPT
              and (MARK_A.encode() in data or scene.statement_a.number.encode() in data)):
            wrong.append(f"{role}: the answer shows organization A's data")
    assert not wrong, f"{method} {url}: " + "; ".join(wrong)


# -- lists show only what the viewer may see -----------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {item["id"] for item in response.get_json()["items"]}


@pytest.mark.parametrize("role", ["res_b", "billing_b", "other_mgr"])
def test_lists_hold_nothing_of_organization_a(app, client, role):
    scene = Scene(app)
    for path in ("/bookings", "/orders", "/statements", "/calendars", "/charges",
                 "/manage/approvals", "/lab/orders"):
        response = _request(client, scene, role, "GET", path, api=False)
        assert response.status_code in (200, 403, 404), (path, response.status_code)
        assert MARK_A not in response.get_data(as_text=True), path
        assert scene.statement_a.number not in response.get_data(as_text=True), path
    headers = scene.bearer(role)
    for query in ("", "?lab=NEM", "?lab=NEM&state=pending"):
        response = client.get(f"/api/v1/bookings{query}", headers=headers)
        assert response.status_code in (200, 403), query
        if response.status_code == 200:
            assert scene.booking.id not in _ids(response)
    assert scene.request.id not in _ids(client.get("/api/v1/service-requests", headers=headers))
    assert scene.order.id not in _ids(client.get("/api/v1/orders", headers=headers))
    statements = _ids(client.get("/api/v1/statements", headers=headers))
    assert scene.statement_a.id not in statements
    assert (scene.statement_b.id in statements) == (role == "billing_b")
    charges = client.get("/api/v1/charges", headers=headers)
    if role == "other_mgr":
        assert _ids(charges) == set()  # the lab's charges are not theirs to see
    else:
        assert charges.status_code == 403
    response = client.get(f"/api/v1/statements?organization_id={scene.org_a.id}",
                          headers=headers)
    assert _ids(response) == set()
    assert scene.feed_token.id not in _ids(client.get("/api/v1/feed-tokens", headers=headers))


def test_lists_of_the_owner_and_the_lab_hold_organization_a(app, client):
    """The same lists do show A's items to A and to the lab, so the filter is not vacuous."""
    scene = Scene(app)
    for role in ("res_a", "mgr"):
        headers = scene.bearer(role)
        query = "?lab=NEM" if role == "mgr" else ""
        assert scene.booking.id in _ids(client.get(f"/api/v1/bookings{query}",
                                                   headers=headers))
    assert scene.request.id in _ids(client.get("/api/v1/service-requests",
                                               headers=scene.bearer("res_a")))
    admin = scene.bearer("admin")
    assert {scene.statement_a.id, scene.statement_b.id} <= _ids(
        client.get("/api/v1/statements", headers=admin))
    assert {scene.charge_a.id, scene.charge_b.id} <= _ids(
        client.get("/api/v1/charges", headers=scene.bearer("mgr")))


# -- fields only the system or a manager may set --------------------------------------------------


def test_booking_ignores_or_refuses_system_fields(app, client):
    scene = Scene(app)
    res_a, res_b = scene.users["res_a"], scene.users["res_b"]
    day = next_weekday(3)
    body = {"instrument_id": scene.instrument.id, "start": lab_time(day, 10).isoformat(),
            "end": lab_time(day, 11).isoformat(), "purpose": "matrix",
            "state": "approved", "user_id": res_b.id, "organization_id": scene.org_b.id,
            "is_override": True, "price": "0.01", "amount": "0.01",
            "decided_by_id": res_a.id, "checked_in_at": lab_time(day, 10).isoformat()}
    # Overriding the rules is a manager's field: a researcher sending it is refused outright.
    refused = client.post("/api/v1/bookings", json={**body, "override": True},
                          headers=scene.bearer("res_a"))
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "override_not_allowed"
    response = client.post("/api/v1/bookings", json=body, headers=scene.bearer("res_a"))
    assert response.status_code in (201, 422), response.get_json()
    if response.status_code == 422:  # refused outright: nothing written
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
        return
    booking = db.session.get(Booking, response.get_json()["id"])
    assert booking.state == BookingState.PENDING  # the instrument needs approval
    assert (booking.user_id, booking.organization_id) == (res_a.id, scene.org_a.id)
    assert not booking.is_override and booking.decided_by_id is None
    assert booking.checked_in_at is None


def test_an_order_ignores_system_fields(app, client):
    scene = Scene(app)
    res_a, res_b = scene.users["res_a"], scene.users["res_b"]
    body = {"lines": [{"service_id": scene.service.id, "samples": [
                {"name": "matrix", "quantity": "1", "number": "NEM-2000-999999"}],
                "state": "completed", "total": "0.01", "unit_price": "0.01"}],
            "terms_confirmed": True, "state": "completed", "total": "0.01",
            "quoted_total": "0.01", "tier": "internal", "number": "NEM-WT-2000-99999",
            "requester_id": res_b.id, "organization_id": scene.org_b.id,
            "legacy_request_id": scene.request.id}
    response = client.post("/api/v1/orders", json=body, headers=scene.bearer("res_a"))
    assert response.status_code == 201, response.get_json()
    created = db.session.get(Order, response.get_json()["id"])
    assert created.state == OrderState.SUBMITTED and created.number != "NEM-WT-2000-99999"
    assert (created.requester_id, created.organization_id) == (res_a.id, scene.org_a.id)
    assert created.tier == PriceTier.PARTNER  # A's tier, not the one sent
    assert created.quoted_total == Decimal("80.00") and created.legacy_request_id is None
    assert created.lines[0].samples[0].number is None


def test_web_forms_ignore_system_fields(app, client):
    scene = Scene(app)
    res_a = scene.users["res_a"]
    response = _request(client, scene, "res_a", "POST", "/orders/new", api=False,
                        body={"service_0": scene.service.code, "samples_0": "web | | | 1",
                              "terms_confirmed": "on", "action": "submit",
                              "shown_total": "80.00", "state": "completed",
                              "quoted_total": "0.01", "tier": "internal",
                              "organization_id": str(scene.org_b.id),
                              "requester_id": str(scene.users["res_b"].id)})
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.rollback()
    created = db.session.scalars(select(Order).where(Order.id != scene.order.id)).one()
    assert created.state == OrderState.SUBMITTED
    assert (created.requester_id, created.organization_id) == (res_a.id, scene.org_a.id)
    assert created.quoted_total == Decimal("80.00")
