"""The demo data show the product from the first page of every role: trained researchers,
bookings now and tomorrow, requests to approve, testing orders in each open state, a report to
review and an issued one, issued statements with an invoice requested and one issued, placed
relative to the moment they are loaded, and loaded once however often `labbook demo` runs; a
later run brings the bookings around today to the new today."""

import datetime as dt
import pathlib

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import User
from labbook.billing.models import Charge, Invoice, InvoiceState, Statement, StatementState
from labbook.booking.models import Booking, BookingState, Qualification
from labbook.catalogue.models import Instrument
from labbook.core.time import to_lab_time, utcnow
from labbook.demo import DEMO_BOOKINGS, ReportFiles, load_demo
from labbook.extensions import db
from labbook.orders.models import LineState, Order, OrderState, Report, ReportState
from tests.test_cli import run

#: The instruments the browser tests book on (tests/e2e); the demo's own bookings keep off them.
E2E_INSTRUMENTS = {"NEM-001", "NEM-002", "NEM-003", "NEM-005", "NEM-006", "NEM-007", "NEM-009",
                   "NEM-010", "NEM-012", "FOOD-001", "FOOD-002", "FOOD-043", "MFG-001",
                   "MFG-002"}


@pytest.fixture(autouse=True)
def _order_files(app, monkeypatch, tmp_path):
    """The demo's issued report is written here, not into the checkout's instance folder."""
    monkeypatch.setitem(app.config, "LABBOOK_ORDER_FILES_DIR", str(tmp_path / "orders"))


def _demo(app):
    assert run(app, "init").exit_code == 0
    first = run(app, "demo")
    assert first.exit_code == 0, first.output
    assert "food.analyst@jzit.example.cn" in first.output
    assert run(app, "demo").exit_code == 0
    db.session.rollback()


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_todays_work_is_loaded_once_relative_to_now(app):
    _demo(app)
    now = utcnow()
    today = to_lab_time(now).date()
    assert _count(Qualification) == 7
    current = db.session.scalars(select(Booking).where(Booking.end_at > now)).all()
    assert len(current) == len(DEMO_BOOKINGS)
    in_use = [b for b in current if b.state == BookingState.IN_USE]
    assert len(in_use) == 1 and in_use[0].start_at <= now < in_use[0].end_at
    tomorrow = [b for b in current if to_lab_time(b.start_at).date() == today
                + dt.timedelta(days=1) and b.state == BookingState.APPROVED]
    assert len(tomorrow) == 3
    pending = [b for b in current if b.state == BookingState.PENDING]
    assert {b.instrument.lab.code for b in pending} == {"NEM", "FOOD", "MFG"}
    codes = {db.session.get(Instrument, b.instrument_id).code for b in current}
    assert not codes & E2E_INSTRUMENTS
    for booking in current:  # each on an instrument its user is trained on
        assert db.session.scalar(select(Qualification.id).where(
            Qualification.user_id == booking.user_id,
            Qualification.instrument_id == booking.instrument_id)) is not None
    orders = db.session.scalars(select(Order).order_by(Order.id)).all()
    assert {(o.state, o.lines[0].state) for o in orders} >= {
        (OrderState.SUBMITTED, LineState.WAITING), (OrderState.RECEIVED, LineState.RECEIVED),
        (OrderState.RECEIVED, LineState.IN_PROGRESS)}
    in_progress = next(o for o in orders if o.lines[0].state == LineState.IN_PROGRESS)
    assert in_progress.lines[0].analyst.email == "food.analyst@jzit.example.cn"
    assert sorted(db.session.scalars(select(Report.state))) == [ReportState.ISSUED,
                                                                ReportState.PREPARED]


def test_every_role_finds_work_on_its_first_pages(app, client, login_as):
    _demo(app)

    def page(email: str, path: str) -> str:
        person = db.session.scalar(select(User).where(User.email == email))
        response = login_as(person).get(path)
        assert response.status_code == 200, (email, path)
        return response.get_data(as_text=True)

    assert "隔膜截面抛光制样" in page("nem.manager@jzit.example.cn", "/manage/approvals")
    assert "果汁中有机酸组分分析" in page("food.manager@jzit.example.cn", "/manage/approvals")
    assert "法兰锻件超声探伤" in page("mfg.manager@jzit.example.cn", "/manage/approvals")
    queue = page("food.manager@jzit.example.cn", "/lab/orders")
    for number in db.session.scalars(select(Order.number).where(
            Order.state.in_([OrderState.SUBMITTED, OrderState.RECEIVED]))):
        assert number in queue
    assert "FOOD-WT" in page("food.analyst@jzit.example.cn", "/lab/orders")
    mine = page("chen@xincai.example.cn", "/bookings")
    assert "电极材料小角散射" in mine and "正极材料拉曼面扫" in mine
    assert "FOOD-WT" in page("zhou@huaichuan.example.cn", "/orders")
    issued = db.session.scalar(select(Report.number).where(Report.state == ReportState.ISSUED))
    assert f"报告 {issued}（PDF）" in page("chen@xincai.example.cn", "/orders")


def test_an_issued_report_verifies_and_its_pdf_is_kept(app, client):
    _demo(app)
    report = db.session.scalar(select(Report).where(Report.state == ReportState.ISSUED))
    assert report.order.requester.email == "chen@xincai.example.cn"
    assert len({report.prepared_by_id, report.reviewed_by_id, report.approved_by_id}) == 3
    pdf = pathlib.Path(app.config["LABBOOK_ORDER_FILES_DIR"]) / report.pdf_path
    assert pdf.read_bytes().startswith(b"%PDF-")
    response = client.get(f"/verify/{report.verification_code}")
    assert response.status_code == 200
    assert report.number in response.get_data(as_text=True)


def test_finance_and_the_billing_contacts_find_invoices(app, client, login_as):
    _demo(app)
    invoices = {invoice.organization.name: invoice for invoice in db.session.scalars(
        select(Invoice))}
    assert {name: invoice.state for name, invoice in invoices.items()} == {
        "焦作新材储能科技有限公司": InvoiceState.REQUESTED,
        "怀川绿色食品有限公司": InvoiceState.ISSUED}
    assert set(db.session.scalars(select(Statement.state))) == {StatementState.ISSUED}
    # Last month is left for the admin to close: its charges are on no statement yet.
    assert db.session.scalar(select(func.count()).select_from(Charge)
                             .where(Charge.statement_id.is_(None))) > 0

    def page(email: str, path: str) -> str:
        person = db.session.scalar(select(User).where(User.email == email))
        response = login_as(person).get(path)
        assert response.status_code == 200, (email, path)
        return response.get_data(as_text=True)

    first = page("admin@jzit.example.cn", "/dashboard/institute")  # where finance signs in to
    assert "1 张发票待开具" in first and "/billing/invoices?state=requested" in first
    finance = page("admin@jzit.example.cn", "/billing/invoices")
    assert "焦作新材储能科技有限公司" in finance and "26412000000004051877" in finance
    assert "26412000000004051877" in page("zhou@huaichuan.example.cn", "/billing/invoices")


def test_a_later_run_brings_todays_bookings_to_the_new_today(app, client, login_as, tmp_path):
    """Seeded one day and run again three days later: the bookings around today are moved to
    the new today, nothing is created twice, and what a person did stays as it was."""
    assert run(app, "init").exit_code == 0
    files = ReportFiles(tmp_path / "orders", "http://127.0.0.1:5000")
    seeded = utcnow()
    load_demo(db.session, seeded, files)
    counts = {model: _count(model) for model in (Booking, Order, Report, Invoice, Statement,
                                                   Charge, Qualification, User)}
    chen = db.session.scalar(select(User).where(User.email == "chen@xincai.example.cn"))
    mine = Booking(instrument=db.session.scalar(select(Instrument).where(
        Instrument.code == "NEM-011")), user=chen, organization=chen.organization,
        start_at=seeded + dt.timedelta(days=3, hours=1),
        end_at=seeded + dt.timedelta(days=3, hours=2),
        blocked_until=seeded + dt.timedelta(days=3, hours=2), purpose="booked in the UI",
        state=BookingState.APPROVED)
    db.session.add(mine)
    db.session.commit()

    later = seeded + dt.timedelta(days=3)
    load_demo(db.session, later, files)
    load_demo(db.session, later, files)
    db.session.expire_all()
    assert _count(Booking) == counts[Booking] + 1
    for model in (Order, Report, Invoice, Statement, Charge, Qualification, User):
        assert _count(model) == counts[model], model
    assert db.session.get(Booking, mine.id).start_at == seeded + dt.timedelta(days=3, hours=1)
    today = to_lab_time(later).date()
    current = db.session.scalars(select(Booking).where(
        Booking.end_at > later, Booking.purpose != "booked in the UI")).all()
    assert len(current) == len(DEMO_BOOKINGS)
    in_use = [b for b in current if b.state == BookingState.IN_USE]
    assert len(in_use) == 1 and in_use[0].start_at <= later < in_use[0].end_at
    assert len([b for b in current if to_lab_time(b.start_at).date()
                == today + dt.timedelta(days=1)]) == 5
    assert {b.instrument.lab.code for b in current if b.state == BookingState.PENDING} == {
        "NEM", "FOOD", "MFG"}
    manager = db.session.scalar(select(User).where(User.email == "nem.manager@jzit.example.cn"))
    page = login_as(manager).get(f"/manage/labs/NEM/today?date={today.isoformat()}")
    assert f'id="booking-{in_use[0].id}"' in page.get_data(as_text=True)
