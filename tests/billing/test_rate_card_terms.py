"""What a new rate card takes where nothing is given, and who is offered the statements: one
rule each for the pages and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from labbook.accounts.models import PriceTier
from labbook.billing import services
from labbook.billing.models import BillingBasis, RateCard
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
)

DEFAULT_TERMS = {"billing_basis": BillingBasis.BOOKED, "rounding_minutes": 15,
                 "minimum_minutes": 0, "no_show_percent": 100, "late_cancel_percent": 50}


def test_a_tiers_first_card_takes_the_default_terms():
    instrument = create_instrument(rates={})
    assert services.rate_card_terms(instrument, PriceTier.PARTNER,
                                    dt.date(2026, 12, 1)) == DEFAULT_TERMS


def test_a_later_card_takes_the_terms_of_the_card_in_force_on_its_first_day():
    instrument = create_instrument(rates={})
    instrument.rate_cards.append(RateCard(
        tier=PriceTier.PARTNER, effective_from=dt.date(2026, 12, 1),
        hourly_rate=Decimal("80.00"), billing_basis=BillingBasis.ACTUAL, rounding_minutes=30,
        minimum_minutes=60, no_show_percent=80, late_cancel_percent=20))
    db.session.flush()
    assert services.rate_card_terms(instrument, PriceTier.PARTNER, dt.date(2026, 12, 1)) == {
        "billing_basis": BillingBasis.ACTUAL, "rounding_minutes": 30, "minimum_minutes": 60,
        "no_show_percent": 80, "late_cancel_percent": 20}
    assert services.rate_card_terms(instrument, PriceTier.PARTNER,
                                    dt.date(2026, 11, 30)) == DEFAULT_TERMS
    assert services.rate_card_terms(instrument, PriceTier.EXTERNAL,
                                    dt.date(2026, 12, 1)) == DEFAULT_TERMS


def test_the_form_starts_from_the_default_terms_and_today_in_lab_time():
    # 17:30 UTC on 30 November is 01:30 on 1 December in the lab.
    now = dt.datetime(2026, 11, 30, 17, 30, tzinfo=dt.UTC)
    assert services.rate_card_form_defaults(now=now) == {
        "effective_from": dt.date(2026, 12, 1), **DEFAULT_TERMS}


def test_statements_are_offered_to_admins_managers_and_billing_contacts_only():
    contact = create_user()
    create_organization(billing_contact=contact)
    assert services.may_see_statements(db.session, create_admin())
    assert services.may_see_statements(db.session, create_manager(create_lab()))
    assert services.may_see_statements(db.session, contact)
    assert not services.may_see_statements(db.session, create_user())
