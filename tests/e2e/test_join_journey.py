"""An enterprise joins by itself, and a booker checks in at the instrument.

(a) on a phone, a visitor registers an enterprise and confirms the email address; an admin
    approves it; the registrant, now the organization's admin, invites a colleague, who
    creates an account from the invitation and signs in;
(b) on a phone (390 px wide), a researcher opens the instrument's QR page and checks in to the
    booking that is starting.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from sqlalchemy import select

from labbook.booking.models import Booking, BookingState
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.e2e.pages import sign_in, submit
from tests.factories import make_uscc

REGISTRANT = "boss@xinqiye.example.cn"
COLLEAGUE = "li.lei@xinqiye.example.cn"
PASSWORD = "Xinqiye-2026!"
ADMIN = "admin@jzit.example.cn"
RESEARCHER = "chen@xincai.example.cn"
#: An instrument no other browser test books, for a booking that starts now.
QR_INSTRUMENT = "NEM-010"


def emailed_path(to: str, kind: str) -> str:
    """The path of the link in the latest email of ``kind`` to ``to``."""
    db.session.rollback()  # a new snapshot, and nothing kept from an earlier read
    db.session.expire_all()
    message = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == to, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id.desc())).first()
    assert message is not None, f"no {kind} email to {to}"
    url = re.search(r"https?://\S+/(?:confirm|invitations)/\S+", message.body_text).group(0)
    return urlsplit(url).path


def test_an_enterprise_registers_is_approved_and_invites_a_colleague(open_visit, site):
    registrant = open_visit("phone")
    page = registrant.page
    registrant.goto("/register")
    registrant.shot("register")
    page.fill("#organization_name", "焦作新企业科技有限公司")
    page.fill("#uscc", make_uscc(880_001))
    page.fill("#address", "河南省焦作市高新区新园路 8 号")
    page.fill("#contact_phone", "0391-3560000")
    page.fill("#name", "王总")
    page.fill("#email", REGISTRANT)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    submit(page, "main form [type=submit]")
    assert REGISTRANT in page.locator("main").inner_text()
    registrant.shot("check-mailbox")
    registrant.goto(emailed_path(REGISTRANT, "confirm_registration"))
    registrant.shot("confirmed")

    admin = open_visit("desktop", email=ADMIN)
    admin.goto("/admin/registrations")
    submit(admin.page, "main a:has-text('焦作新企业科技有限公司')")
    admin.shot("registration")
    admin.page.select_option("#tier", "partner")
    submit(admin.page, "main form:has(#tier) [type=submit]")
    assert admin.page.locator(".alert-success").count() == 1

    sign_in(page, site.url, REGISTRANT, PASSWORD)
    registrant.goto("/organization")
    registrant.shot("organization")
    page.fill("#email", COLLEAGUE)
    submit(page, "main form:has(#email) [type=submit]")
    assert COLLEAGUE in page.locator("main").inner_text()  # among the open invitations

    colleague = open_visit("phone")
    colleague.goto(emailed_path(COLLEAGUE, "invitation"))
    colleague.shot("invitation")
    colleague.page.fill("#name", "李雷")
    colleague.page.fill("#password", PASSWORD)
    colleague.page.fill("#confirm", PASSWORD)
    submit(colleague.page, "main form [type=submit]")
    assert colleague.path().startswith("/login")
    sign_in(colleague.page, site.url, COLLEAGUE, PASSWORD)
    assert colleague.page.locator(".alert-success").count() == 1  # "welcome"


def test_a_researcher_checks_in_by_the_qr_page_on_a_phone(open_visit, site):
    instrument = site.instrument(QR_INSTRUMENT)
    researcher = site.user(RESEARCHER)
    start = utcnow().replace(second=0, microsecond=0) + dt.timedelta(minutes=5)
    booking = Booking(instrument=instrument, user=researcher,
                      organization=researcher.organization, start_at=start,
                      end_at=start + dt.timedelta(hours=1),
                      blocked_until=start + dt.timedelta(hours=1), state=BookingState.APPROVED,
                      purpose="二维码签到")
    db.session.add(booking)
    db.session.commit()

    visit = open_visit("phone", email=RESEARCHER)
    page = visit.goto(f"/m/instruments/{instrument.id}")
    visit.shot("qr-page")  # checks, among the basics, that nothing is wider than 390 px
    assert page.locator(f"a[href*='/instruments/{instrument.id}/report-problem']").count() == 1
    submit(page, f"form[action$='/m/instruments/{instrument.id}/check-in'] button")
    assert page.locator(".alert-success").count() == 1
    visit.shot("checked-in")
    db.session.rollback()  # see what the server wrote
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).state == BookingState.IN_USE
