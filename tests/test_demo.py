"""The demo data show the product from the first page of every role: trained researchers,
bookings now and tomorrow, requests to approve and testing orders in each open state, placed
relative to the moment they are loaded, and loaded once however often `labbook demo` runs."""

import datetime as dt

from sqlalchemy import func, select

from labbook.accounts.models import User
from labbook.booking.models import Booking, BookingState, Qualification
from labbook.catalogue.models import Instrument
from labbook.core.time import to_lab_time, utcnow
from labbook.demo import DEMO_BOOKINGS
from labbook.extensions import db
from labbook.orders.models import LineState, Order, OrderState, Report, ReportState
from tests.test_cli import run

#: The instruments the browser tests book on (tests/e2e); the demo's own bookings keep off them.
E2E_INSTRUMENTS = {"NEM-001", "NEM-002", "NEM-003", "NEM-005", "NEM-006", "NEM-007", "NEM-009",
                   "NEM-010", "NEM-012", "FOOD-001", "FOOD-002", "FOOD-043", "MFG-001",
                   "MFG-002"}


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
    assert db.session.scalars(select(Report.state)).all() == [ReportState.PREPARED]


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
