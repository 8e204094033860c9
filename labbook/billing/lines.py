"""What a charge line is and how it was computed, in words, for statements and exports.

Both texts are built from what the charge itself recorded (basis, minutes, rate, share), never
from today's rate cards, so a line reads the same however prices change later.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from flask_babel import ngettext

from labbook.billing.labels import KIND_LABELS
from labbook.billing.models import BillingBasis, Charge, ChargeKind
from labbook.billing.pricing import time_amount
from labbook.core.money import format_money
from labbook.core.time import to_lab_time
from labbook.i18n import localized

if TYPE_CHECKING:
    from labbook.accounts.models import User


def kind_label(kind: ChargeKind) -> str:
    return str(KIND_LABELS[kind])


def booked_by(charge: Charge) -> User | None:
    """Who booked the instrument time or requested the test that ``charge`` bills (for a
    correction: that of the line it corrects); None for an adjustment."""
    source = charge.corrects or charge
    if source.booking is not None:
        return source.booking.user
    if source.service_request is not None:
        return source.service_request.requester
    if source.order_line is not None:
        return source.order_line.order.requester
    return None


def project_ref(charge: Charge) -> str:
    """The project or PO reference given with the booking ``charge`` bills, printed on the
    statement as the booking form promises ("" when there is none)."""
    source = charge.corrects or charge
    return source.booking.project_ref if source.booking is not None else ""


def line_date(charge: Charge) -> dt.date:
    """The lab-time day of the billable event (its booked start, completion or entry)."""
    return to_lab_time(charge.occurred_at).date()


def _interval(start: dt.datetime, end: dt.datetime) -> str:
    start, end = to_lab_time(start), to_lab_time(end)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def _instrument_text(charge: Charge) -> str:
    instrument = charge.instrument
    text = f"{instrument.code} {localized(instrument, 'name')}"
    if charge.booking is not None:
        text += ", " + _interval(charge.booking.start_at, charge.booking.end_at)
    return text


def describe(charge: Charge) -> str:
    """One line saying what was billed, in the current locale."""
    if charge.kind == ChargeKind.USAGE:
        text = _instrument_text(charge)
    elif charge.kind == ChargeKind.NO_SHOW:
        text = _("No-show: %(instrument)s", instrument=_instrument_text(charge))
    elif charge.kind == ChargeKind.LATE_CANCELLATION and charge.booking_change is not None:
        change = charge.booking_change
        text = _("Late change of booking #%(id)d: %(instrument)s, %(n)d min given back",
                 id=change.booking_id, n=change.given_back_minutes,
                 instrument=f"{charge.instrument.code} {localized(charge.instrument, 'name')}, "
                 + _interval(change.old_start_at, change.old_end_at))
    elif charge.kind == ChargeKind.LATE_CANCELLATION:
        text = _("Late cancellation: %(instrument)s", instrument=_instrument_text(charge))
    elif charge.kind == ChargeKind.SERVICE:
        service = charge.service
        text = ngettext("%(service)s, %(num)d sample", "%(service)s, %(num)d samples",
                        charge.samples or 0,
                        service=f"{service.code} {localized(service, 'name')}")
        if charge.surcharge:
            text = _("%(line)s, express", line=text)
        if charge.order_line is not None:
            text = _("Order %(number)s: %(line)s", number=charge.order_line.order.number,
                     line=text)
    elif charge.corrects is not None:
        text = _("Correction of %(line)s, billed on statement %(number)s",
                 line=describe(charge.corrects), number=charge.corrects.statement.number)
    else:
        text = _("Adjustment: %(reason)s", reason=charge.reason)
    # A charge that arrived after its month was closed sits on a later statement; saying so
    # explains why its date lies outside the statement's month.
    if charge.statement is not None and charge.period < charge.statement.period:
        text = _("%(line)s (late charge of %(period)s)", line=text, period=charge.period)
    return text


def _minutes_used(charge: Charge) -> str:
    if charge.basis == BillingBasis.BOOKED:
        return _("%(n)d min booked", n=charge.booked_minutes)
    if charge.actual_minutes is None:
        used = _("not used")
    else:
        used = _("%(n)d min used", n=charge.actual_minutes)
    if charge.basis == BillingBasis.ACTUAL:
        return used
    return _("the larger of %(booked)d min booked and %(used)s",
             booked=charge.booked_minutes, used=used)


def _billing_rules(charge: Charge) -> str:
    rounding = charge.rounding_minutes if charge.rounding_minutes and \
        charge.rounding_minutes > 1 else None
    if rounding and charge.minimum_minutes:
        return _(" (%(n)d-min increments, minimum %(m)d min)", n=rounding,
                 m=charge.minimum_minutes)
    if rounding:
        return _(" (%(n)d-min increments)", n=rounding)
    if charge.minimum_minutes:
        return _(" (minimum %(n)d min)", n=charge.minimum_minutes)
    return ""


def _time_computation(charge: Charge) -> str:
    text = _("%(used)s → %(billed)d min billed%(rules)s × %(rate)s/h",
             used=_minutes_used(charge), billed=charge.billed_minutes,
             rules=_billing_rules(charge), rate=format_money(charge.unit_price))
    if charge.kind == ChargeKind.NO_SHOW:
        text = _("no-show: %(share)d %% of %(time)s", share=charge.share_percent, time=text)
    elif charge.kind == ChargeKind.LATE_CANCELLATION and charge.booking_change is not None:
        change = charge.booking_change
        text = _("Late change of booking #%(id)d: %(instrument)s, %(n)d min given back",
                 id=change.booking_id, n=change.given_back_minutes,
                 instrument=f"{charge.instrument.code} {localized(charge.instrument, 'name')}, "
                 + _interval(change.old_start_at, change.old_end_at))
    elif charge.kind == ChargeKind.LATE_CANCELLATION:
        text = _("late cancellation: %(share)d %% of %(time)s", share=charge.share_percent,
                 time=text)
    elif charge.share_percent != 100:
        text = _("%(share)d %% of %(time)s", share=charge.share_percent, time=text)
    return text


def _correction_computation(charge: Charge) -> str:
    """The time as corrected, priced as the corrected line was, less what was billed for it."""
    priced = time_amount(charge.billed_minutes, charge.unit_price, charge.share_percent)
    return _("%(time)s = %(amount)s, less %(billed)s billed before",
             time=_time_computation(charge), amount=format_money(priced),
             billed=format_money(priced - charge.amount))


def computation(charge: Charge) -> str:
    """How the amount was reached, e.g. "31 min booked → 45 min billed (15-min increments)
    × ¥37.50/h = ¥28.13"."""
    if charge.corrects is not None and charge.billed_minutes is not None:
        text = _correction_computation(charge)
    elif charge.kind == ChargeKind.ADJUSTMENT:
        author = charge.created_by.name if charge.created_by else _("the system")
        text = _("entered by %(name)s on %(date)s", name=author,
                 date=line_date(charge).isoformat())
    elif charge.kind == ChargeKind.SERVICE:
        text = ngettext("%(num)d sample × %(price)s", "%(num)d samples × %(price)s",
                        charge.samples or 0, price=format_money(charge.unit_price))
        if charge.surcharge:
            text += " + " + _("express %(amount)s", amount=format_money(charge.surcharge))
    else:
        text = _time_computation(charge)
    return f"{text} = {format_money(charge.amount)}"
