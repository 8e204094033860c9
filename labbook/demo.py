"""Demo organizations, users, last month's use and today's work, created only when asked for
(``labbook demo``).

The use (completed bookings, a no-show, a late cancellation, completed tests) lies in the
month before today and is charged as the real flows charge it, so an admin can close that month
and look at the statements right away. The month before last is closed already: its statements
are issued, one enterprise's invoice is waiting for finance and another's is issued. Today's
work (``_load_current``) gives every role something on its first page: researchers trained on
some instruments, a booking in use now and bookings tomorrow, booking requests waiting for each
lab's manager, testing orders in each open state (awaiting intake, received, in testing), a
report awaiting review and an issued one, all relative to ``now`` in lab time. It uses
instruments the browser tests leave alone. Running it again moves the bookings around today
to the new today (``_place_bookings``) and creates nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.accounts import services as accounts
from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.accounts.uscc import check_character
from labbook.billing import invoices
from labbook.billing import services as billing
from labbook.billing.models import InvoiceKind, InvoiceMedium
from labbook.billing.pricing import quote
from labbook.booking.models import SLOT_HOLDING, Booking, BookingState, Qualification
from labbook.catalogue.models import Instrument, Lab, Owner, TestingService
from labbook.core.time import LAB_TZ, to_lab_time
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from labbook.orders import intake, numbers, reporting, work
from labbook.orders import services as orders
from labbook.orders.models import (
    Capability,
    IntakeStatus,
    LabStaff,
    LineState,
    Order,
    OrderLine,
    OrderState,
    Remains,
    ReportLanguage,
    Sample,
)
from labbook.owners.models import OwnerAgreement, OwnerContact

DEMO_PASSWORD = "labbook-demo-2026"  # noqa: S105  (printed to the operator on purpose)


@dataclass(frozen=True)
class ReportFiles:
    """Where the demo's issued report is kept, and the address its QR code verifies at."""
    report_dir: str | Path
    base_url: str


def _uscc(first17: str) -> str:
    return first17 + check_character(first17)


DEMO_ORGANIZATIONS = (
    ("焦作市产业技术科学院", _uscc("12410800MB1C6N2P1"), PriceTier.INTERNAL),
    ("焦作新材储能科技有限公司", _uscc("91410800MA9G3KXD2"), PriceTier.PARTNER),
    ("怀川绿色食品有限公司", _uscc("91410821MA47PQ8R5"), PriceTier.EXTERNAL),
    ("焦作精工装备制造有限公司", _uscc("91410802MA9K5TWL0"), PriceTier.EXTERNAL),
    ("河南理工大学", _uscc("12410000415802930"), PriceTier.PARTNER),
)


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    organization: str
    labs: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("admin@jzit.example.cn", "系统管理员", Role.ADMIN, "焦作市产业技术科学院"),
    DemoUser("nem.manager@jzit.example.cn", "王磊（新能源材料实验室）", Role.LAB_MANAGER,
             "焦作市产业技术科学院", ("NEM",)),
    DemoUser("food.manager@jzit.example.cn", "李静（绿色食品实验室）", Role.LAB_MANAGER,
             "焦作市产业技术科学院", ("FOOD",)),
    DemoUser("mfg.manager@jzit.example.cn", "张伟（装备制造实验室）", Role.LAB_MANAGER,
             "焦作市产业技术科学院", ("MFG",)),
    DemoUser("chen@xincai.example.cn", "陈晓明", Role.RESEARCHER, "焦作新材储能科技有限公司"),
    DemoUser("zhou@huaichuan.example.cn", "周婷", Role.RESEARCHER, "怀川绿色食品有限公司"),
    DemoUser("liu@jinggong.example.cn", "刘洋", Role.RESEARCHER, "焦作精工装备制造有限公司"),
    DemoUser("owner@hpu.example.cn", "赵敏（河南理工大学设备处）", Role.RESEARCHER, "河南理工大学"),
    DemoUser("food.analyst@jzit.example.cn", "孙倩（绿色食品实验室检测员）", Role.RESEARCHER,
             "焦作市产业技术科学院"),
    DemoUser("food.signatory@jzit.example.cn", "吴刚（绿色食品实验室授权签字人）", Role.RESEARCHER,
             "焦作市产业技术科学院"),
)
#: Who does the FOOD lab's testing work: (email, capability) — the analyst tests and prepares
#: reports, the lab's manager reviews them and the signatory approves them (three people: no
#: one signs a report twice).
DEMO_LAB_STAFF = (("food.analyst@jzit.example.cn", Capability.ANALYST),
                  ("food.manager@jzit.example.cn", Capability.REVIEWER),
                  ("food.signatory@jzit.example.cn", Capability.SIGNATORY))
#: Researchers trained on instruments that need it: (researcher, instrument codes).
DEMO_QUALIFICATIONS = (("chen@xincai.example.cn", ("NEM-004", "NEM-008", "NEM-011")),
                       ("zhou@huaichuan.example.cn", ("FOOD-003", "FOOD-004")),
                       ("liu@jinggong.example.cn", ("MFG-007", "MFG-009")))
#: Bookings around today: (researcher, instrument, days from today, lab-time hour or None for
#: "in use now", minutes, state, purpose). The one in use began one to two hours ago
#: and lasts four hours: it is still in use for at least two hours after the demo is loaded.
DEMO_BOOKINGS = (
    ("chen@xincai.example.cn", "NEM-004", 0, None, 240, BookingState.IN_USE, "电极材料小角散射"),
    ("chen@xincai.example.cn", "NEM-011", 1, 9, 120, BookingState.APPROVED, "正极材料拉曼面扫"),
    ("zhou@huaichuan.example.cn", "FOOD-004", 1, 14, 120, BookingState.APPROVED,
     "茶饮料中咖啡因含量测定"),
    ("liu@jinggong.example.cn", "MFG-009", 1, 15, 60, BookingState.APPROVED, "焊缝表面磁粉检测"),
    ("zhou@huaichuan.example.cn", "FOOD-003", 1, 9, 180, BookingState.PENDING,
     "果汁中有机酸组分分析"),
    ("liu@jinggong.example.cn", "MFG-007", 1, 10, 60, BookingState.PENDING, "法兰锻件超声探伤"),
    ("chen@xincai.example.cn", "NEM-008", 2, 14, 60, BookingState.PENDING, "隔膜截面抛光制样"),
)
#: Open testing orders in the FOOD lab: (researcher, service, samples, how far along).
DEMO_OPEN_ORDERS = (("zhou@huaichuan.example.cn", "FOOD-S003", 3, OrderState.SUBMITTED),
                    ("chen@xincai.example.cn", "FOOD-S004", 2, LineState.RECEIVED),
                    ("liu@jinggong.example.cn", "FOOD-S005", 2, LineState.IN_PROGRESS))
#: The owner units' revenue-sharing agreements (illustrative, like the owners themselves):
#: owner code -> (share of instrument time, share of testing services), in per cent, from
#: 1 January of last year; and the demo contact person of one owner.
DEMO_AGREEMENTS = {"JIIT": (100, 100), "HPU": (70, 50), "DFD": (60, 40), "VICTOR": (60, 40),
                   "MINGREN": (60, 40), "WANFANG": (60, 40)}
DEMO_OWNER_CONTACT = ("HPU", "owner@hpu.example.cn")


#: Last month's use: (researcher, instrument, day of month, hour, booked minutes, used minutes or
#: None for a no-show, or "late" for a late cancellation).
DEMO_USE = (
    ("chen@xincai.example.cn", "NEM-001", 3, 9, 120, 110),
    ("chen@xincai.example.cn", "NEM-002", 5, 14, 90, 95),
    ("chen@xincai.example.cn", "NEM-001", 12, 10, 60, None),
    ("chen@xincai.example.cn", "NEM-003", 19, 9, 240, 200),
    ("zhou@huaichuan.example.cn", "FOOD-001", 4, 9, 180, 170),
    ("zhou@huaichuan.example.cn", "FOOD-002", 11, 13, 60, "late"),
    ("liu@jinggong.example.cn", "MFG-001", 6, 9, 120, 125),
    ("liu@jinggong.example.cn", "MFG-002", 20, 15, 45, 45),
)
#: Last month's completed tests: (researcher, service, samples, express). zhou's report waits
#: for review; chen's is issued, signed three times, and can be verified.
DEMO_TESTS = (("zhou@huaichuan.example.cn", "FOOD-S001", 4, False),
              ("liu@jinggong.example.cn", "MFG-S001", 2, True),
              ("chen@xincai.example.cn", "FOOD-S002", 3, False))
#: The month before last: use already on issued statements, in the same form as ``DEMO_USE``.
#: chen's enterprise has asked for its invoice (waiting for finance); zhou's has been invoiced.
DEMO_EARLIER_USE = (("chen@xincai.example.cn", "NEM-002", 10, 9, 120, 120),
                    ("zhou@huaichuan.example.cn", "FOOD-001", 14, 14, 90, 90))
DEMO_INVOICE_REQUESTED = "焦作新材储能科技有限公司"
DEMO_INVOICE_ISSUED = ("怀川绿色食品有限公司", "26412000000004051877")


def _month_day(now: dt.datetime, day: int, hour: int, *, months_back: int = 1) -> dt.datetime:
    """``day`` at ``hour`` (lab time) of the month ``months_back`` months before ``now``'s."""
    month = to_lab_time(now).date().replace(day=1)
    for _month in range(months_back):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return dt.datetime.combine(month.replace(day=day), dt.time(hour), LAB_TZ).astimezone(dt.UTC)


def _load_use(session: Session, users: dict[str, User], now: dt.datetime) -> None:
    _load_bookings_used(session, users, DEMO_USE, now, months_back=1)
    services = {s.code: s for s in session.scalars(select(TestingService))}
    for email, code, samples, express in DEMO_TESTS:
        _completed_order(session, users[email], services[code], samples, express,
                         submitted=_month_day(now, 7, 10))


def _load_bookings_used(session: Session, users: dict[str, User], use: tuple, now: dt.datetime,
                        *, months_back: int) -> None:
    instruments = {i.code: i for i in session.scalars(select(Instrument))}
    for email, code, day, hour, booked, used in use:
        user, instrument = users[email], instruments[code]
        start = _month_day(now, day, hour, months_back=months_back)
        end = start + dt.timedelta(minutes=booked)
        booking = Booking(instrument=instrument, user=user, organization=user.organization,
                          start_at=start, end_at=end, blocked_until=end, purpose="演示 demo",
                          state=BookingState.APPROVED, created_at=start - dt.timedelta(days=7),
                          updated_at=start)
        session.add(booking)
        session.flush()
        if used == "late":
            booking.state = BookingState.CANCELLED
            booking.cancelled_by = user
            booking.cancelled_at = start - dt.timedelta(hours=2)
            booking.is_late_cancellation = True
            billing.charge_late_cancellation(session, booking, now=booking.cancelled_at)
        elif used is None:
            booking.state = BookingState.NO_SHOW
            billing.charge_no_show(session, booking, now=end)
        else:
            booking.state = BookingState.COMPLETED
            booking.checked_in_at = start
            booking.checked_out_at = start + dt.timedelta(minutes=used)
            billing.charge_completed_booking(session, booking, now=booking.checked_out_at)


def _load_invoicing(session: Session, users: dict[str, User], admin: User,
                    now: dt.datetime) -> None:
    """The month before last, closed and its statements issued at the start of last month; one
    enterprise's invoice requested by its billing contact, another's issued by finance."""
    _load_bookings_used(session, users, DEMO_EARLIER_USE, now, months_back=2)
    closed = _month_day(now, 1, 8)
    period = billing.period_of(_month_day(now, 1, 12, months_back=2))
    statements = billing.close_month(session, admin, period, now=closed).statements
    for statement in statements:
        billing.issue_statement(session, admin, statement, now=closed + dt.timedelta(days=1))
    by_name = {statement.organization.name: statement for statement in statements}
    requested = _month_day(now, 5, 10)
    for name in (DEMO_INVOICE_REQUESTED, DEMO_INVOICE_ISSUED[0]):
        statement = by_name[name]
        invoice = invoices.request_invoice(
            session, statement.organization.billing_contact, statement.organization_id,
            [statement.id], InvoiceKind.ORDINARY, InvoiceMedium.PAPER, "演示 demo",
            now=requested)
        if name == DEMO_INVOICE_ISSUED[0]:
            issued = requested + dt.timedelta(days=3)
            invoices.issue_invoice(session, admin, invoice, invoices.IssueInput(
                invoice_number=DEMO_INVOICE_ISSUED[1], issued_on=to_lab_time(issued).date(),
                amount=invoice.amount), now=issued)


def _completed_order(session: Session, user: User, service: TestingService, samples: int,
                     express: bool, *, submitted: dt.datetime) -> None:
    """A testing order of last month whose samples were received and tested, charged."""
    price = quote(service, user.organization.tier, samples, express)
    received, completed = submitted + dt.timedelta(days=1), submitted + dt.timedelta(days=5)
    year, lab = to_lab_time(submitted).year, service.lab
    order = Order(
        number=numbers.order_number(session, lab.code, year), lab_id=lab.id,
        organization=user.organization, requester=user, state=OrderState.COMPLETED,
        remains=Remains.DISPOSE, report_language=ReportLanguage.ZH_CN,
        notes="演示样品 demo samples", contact_name=user.name, contact_email=user.email,
        tier=price.tier, quoted_total=price.total,
        terms=orders.terms_text(session, lab, "zh_CN"), confirmed_at=submitted,
        created_at=submitted, updated_at=completed, received_at=received)
    line = OrderLine(
        position=1, service=service, method=service.standard, is_express=express,
        state=LineState.COMPLETED, unit_price=price.unit_price,
        express_surcharge_percent=price.express_surcharge_percent,
        express_surcharge=price.express_surcharge, total=price.total,
        due_date=(submitted + dt.timedelta(days=7)).date(), started_at=received,
        completed_at=completed)
    line.samples = [Sample(position=n, name=f"演示样品 {n}", quantity="1",
                           number=numbers.sample_number(session, lab.code, year),
                           intake_status=IntakeStatus.ACCEPTED, received_at=received)
                    for n in range(1, samples + 1)]
    order.lines.append(line)
    session.add(order)
    session.flush()
    billing.charge_order_line(session, line, now=completed)


def _lab_moment(now: dt.datetime, days: int, hour: int) -> dt.datetime:
    day = to_lab_time(now).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), LAB_TZ).astimezone(dt.UTC)


def _load_current(session: Session, users: dict[str, User], now: dt.datetime,
                  files: ReportFiles) -> None:
    """Today's work: qualifications, bookings now and tomorrow, requests to approve, and open
    testing orders taken as far as the lab's real steps take them."""
    instruments = {i.code: i for i in session.scalars(select(Instrument))}
    services = {s.code: s for s in session.scalars(select(TestingService))}
    labs = {lab.code: lab for lab in session.scalars(select(Lab))}
    for email, capability in DEMO_LAB_STAFF:
        session.add(LabStaff(lab_id=labs["FOOD"].id, user_id=users[email].id,
                             capability=capability, granted_at=now))
    for email, codes in DEMO_QUALIFICATIONS:
        for code in codes:
            instrument = instruments[code]
            manager = users[f"{instrument.lab.code.lower()}.manager@jzit.example.cn"]
            session.add(Qualification(user_id=users[email].id, instrument_id=instrument.id,
                                      granted_by_id=manager.id,
                                      granted_at=now - dt.timedelta(days=30)))
    manager, analyst = users["food.manager@jzit.example.cn"], users["food.analyst@jzit.example.cn"]
    session.flush()
    for age, (email, code, samples, stage) in enumerate(DEMO_OPEN_ORDERS, start=1):
        submitted = now - dt.timedelta(days=age, hours=2)
        order = orders.submit(session, users[email], orders.OrderInput(
            lines=[orders.LineInput(service_id=services[code].id, samples=[
                orders.SampleInput(name=f"演示样品 {n}", batch=f"D{n:02d}", quantity="200 g",
                                   condition="密封完好") for n in range(1, samples + 1)])],
            notes="演示委托 demo order", terms_confirmed=True), now=submitted)
        if stage == OrderState.SUBMITTED:
            continue
        received = submitted + dt.timedelta(hours=20)
        intake.receive(session, manager, order, [
            intake.SampleDecision(sample.id, IntakeStatus.ACCEPTED) for sample in order.samples],
            now=received)
        if stage == LineState.IN_PROGRESS:
            line_id = order.lines[0].id
            work.assign(session, manager, order, line_id, analyst, now=received)
            work.start(session, analyst, order, line_id, now=received + dt.timedelta(hours=2))
    # Last month's completed FOOD test gets its report drafted, for the manager to review.
    tested = session.scalar(select(Order).where(Order.lab_id == labs["FOOD"].id,
                                                Order.state == OrderState.COMPLETED)
                            .order_by(Order.id).limit(1))
    if tested is not None:
        reporting.prepare(session, analyst, tested, conclusion="所检项目符合 GB 5009.5 的要求。",
                          now=now - dt.timedelta(hours=4))
    # The next one (chen's) has its report issued: prepared, reviewed and approved.
    signed = session.scalar(select(Order).where(Order.lab_id == labs["FOOD"].id,
                                                Order.state == OrderState.COMPLETED,
                                                ~Order.reports.any())
                            .order_by(Order.id).limit(1))
    if signed is not None:
        signatory = users["food.signatory@jzit.example.cn"]
        report = reporting.prepare(session, analyst, signed,
                                   conclusion="所检项目符合 GB 5009.5 的要求。",
                                   now=now - dt.timedelta(days=3))
        reporting.review(session, manager, signed, report.id, now=now - dt.timedelta(days=2))
        reporting.approve(session, signatory, signed, report.id, base_url=files.base_url,
                          report_dir=files.report_dir, now=now - dt.timedelta(days=1))


def _demo_booking_at(session: Session, user: User, instrument: Instrument, purpose: str,
                     state: BookingState) -> Booking | None:
    """The demo's own booking as it placed it, which no one has acted on since: still in the
    state it was given, never decided, cancelled or checked out."""
    return session.scalar(select(Booking).where(
        Booking.user_id == user.id, Booking.instrument_id == instrument.id,
        Booking.purpose == purpose, Booking.state == state, Booking.decided_at.is_(None),
        Booking.cancelled_at.is_(None), Booking.checked_out_at.is_(None))
        .order_by(Booking.start_at.desc()).limit(1))


def _slot_taken(session: Session, instrument: Instrument, start: dt.datetime,
                blocked_until: dt.datetime, but: Booking | None) -> bool:
    query = select(Booking.id).where(
        Booking.instrument_id == instrument.id, Booking.state.in_(SLOT_HOLDING),
        Booking.start_at < blocked_until, Booking.blocked_until > start)
    if but is not None:
        query = query.where(Booking.id != but.id)
    return session.scalar(query.limit(1)) is not None


def _place_bookings(session: Session, users: dict[str, User], now: dt.datetime) -> None:
    """The bookings around today, placed relative to ``now``: each run moves the demo's own
    untouched bookings to today's places (so a database seeded days ago shows today's work
    again) and creates those missing. A booking someone acted on stays where it is, and a
    place someone else has taken is left to them."""
    instruments = {i.code: i for i in session.scalars(select(Instrument))}
    for email, code, days, hour, minutes, state, purpose in DEMO_BOOKINGS:
        user, instrument = users[email], instruments[code]
        start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1) \
            if hour is None else _lab_moment(now, days, hour)
        end = start + dt.timedelta(minutes=minutes)
        blocked_until = end + dt.timedelta(minutes=instrument.buffer_minutes)
        booking = _demo_booking_at(session, user, instrument, purpose, state)
        if booking is not None and booking.start_at == start and booking.end_at == end:
            continue
        if _slot_taken(session, instrument, start, blocked_until, booking):
            continue
        if booking is None:
            booking = Booking(instrument=instrument, user=user, organization=user.organization,
                              purpose=purpose, state=state)
            session.add(booking)
        else:
            booking.sequence += 1  # calendars that hold it take the new time
        booking.start_at, booking.end_at, booking.blocked_until = start, end, blocked_until
        booking.created_at = booking.updated_at = now - dt.timedelta(hours=5)
        booking.checked_in_at = start if state == BookingState.IN_USE else None
        session.flush()


def _load_owners(session: Session, now: dt.datetime) -> None:
    """Agreements for the shipped owner units that have none, the demo contact person, and a
    problem report waiting for the NEM lab."""
    start = dt.date(to_lab_time(now).year - 1, 1, 1)
    owners = {owner.code: owner for owner in session.scalars(select(Owner))}
    with_agreements = set(session.scalars(select(OwnerAgreement.owner_id)))
    for code, (time_share, testing_share) in DEMO_AGREEMENTS.items():
        if code in owners and owners[code].id not in with_agreements:
            session.add(OwnerAgreement(owner_id=owners[code].id, effective_from=start,
                                       time_share_percent=time_share,
                                       testing_share_percent=testing_share, created_at=now))
    code, email = DEMO_OWNER_CONTACT
    contact = session.scalar(select(User).where(User.email == email))
    if code in owners and contact is not None and session.scalar(
            select(OwnerContact.id).where(OwnerContact.user_id == contact.id)) is None:
        session.add(OwnerContact(owner_id=owners[code].id, user_id=contact.id, created_at=now))
    reporter = session.scalar(select(User).where(User.email == "chen@xincai.example.cn"))
    instrument = session.scalar(select(Instrument).where(Instrument.code == "NEM-001"))
    if reporter is not None and instrument is not None and session.scalar(
            select(InstrumentFault.id).limit(1)) is None:
        session.add(InstrumentFault(
            instrument=instrument, kind=FaultKind.PROBLEM, state=FaultState.OPEN,
            reported_by_id=reporter.id, reported_at=now - dt.timedelta(hours=3),
            description="测角仪回零时有异响，扫描结束后 X 光管未自动降压。"))


def load_demo(session: Session, now: dt.datetime, files: ReportFiles) -> list[DemoUser]:
    """Create what is missing of the demo set and bring its bookings around today up to
    ``now`` (idempotent), and return the demo users."""
    organizations = {org.name: org for org in session.scalars(select(Organization))}
    for name, uscc, tier in DEMO_ORGANIZATIONS:
        if name not in organizations:
            organizations[name] = accounts.create_organization(session, name=name, uscc=uscc,
                                                               tier=tier)
    session.flush()
    labs = {lab.code: lab for lab in session.scalars(select(Lab))}
    existing = set(session.scalars(select(User.email)))
    for demo in DEMO_USERS:
        if demo.email in existing:
            continue
        accounts.create_user(session, email=demo.email, name=demo.name, password=DEMO_PASSWORD,
                             role=demo.role, organization=organizations[demo.organization],
                             labs=[labs[code] for code in demo.labs])
    session.flush()
    for name, contact_email in (("焦作新材储能科技有限公司", "chen@xincai.example.cn"),
                                ("怀川绿色食品有限公司", "zhou@huaichuan.example.cn"),
                                ("焦作精工装备制造有限公司", "liu@jinggong.example.cn")):
        organization = organizations[name]
        if organization.billing_contact is None:
            organization.billing_contact = session.scalar(
                select(User).where(User.email == contact_email))
    demo_users = {user.email: user for user in session.scalars(
        select(User).where(User.email.in_([demo.email for demo in DEMO_USERS])))}
    demo_researchers = [demo_users[demo.email] for demo in DEMO_USERS
                        if demo.role == Role.RESEARCHER]
    if session.scalar(select(Booking.id).where(
            Booking.user_id.in_([user.id for user in demo_researchers])).limit(1)) is None:
        _load_use(session, demo_users, now)
        _load_invoicing(session, demo_users, demo_users["admin@jzit.example.cn"], now)
    if session.scalar(select(Qualification.id).where(
            Qualification.user_id.in_([user.id for user in demo_researchers])).limit(1)) is None:
        _load_current(session, demo_users, now, files)
    _place_bookings(session, demo_users, now)
    _load_owners(session, now)
    session.commit()
    return list(DEMO_USERS)
