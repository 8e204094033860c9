"""Pages, macros and calendars name a state, a status or a tier as its area's labels do, in
both languages."""

from __future__ import annotations

import pytest
from flask import render_template_string
from flask_babel import force_locale

from labbook.accounts.labels import (
    ACCOUNT_STATUS_TITLES,
    ORGANIZATION_STATUS_TITLES,
    TIER_LABELS,
)
from labbook.accounts.models import OrganizationStatus, PriceTier
from labbook.booking.labels import STATE_TITLES
from labbook.booking.models import BookingState
from labbook.catalogue.labels import SERVICE_OFFERED_LABELS, STATUS_LABELS
from labbook.catalogue.models import InstrumentStatus
from tests.factories import create_admin, create_organization, create_user

BADGES = """{% from "booking/_macros.html" import state_badge %}
{%- from "_macros.html" import status_badge, tier_label -%}
{{ state_badge(state) }}|{{ status_badge(status) }}|{{ tier_label(tier) }}"""


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize(("state", "status", "tier"), [
    (BookingState.PENDING, InstrumentStatus.AVAILABLE, PriceTier.INTERNAL),
    (BookingState.NO_SHOW, InstrumentStatus.MAINTENANCE, PriceTier.PARTNER),
    (BookingState.IN_USE, InstrumentStatus.RETIRED, PriceTier.EXTERNAL),
])
def test_badges_read_the_areas_labels(app, locale, state, status, tier):
    with app.test_request_context(), force_locale(locale):
        booking, instrument, price_tier = render_template_string(
            BADGES, state=state, status=status, tier=tier).split("|")
        assert f">{STATE_TITLES[state]}</span>" in booking
        assert f">{STATUS_LABELS[status]}</span>" in instrument
        assert price_tier.strip() == str(TIER_LABELS[tier])


def test_the_catalogue_and_the_administration_call_a_retired_service_alike(app, client):
    page = client.get("/services").get_data(as_text=True)  # in Chinese, as nobody signed in
    with app.test_request_context(), force_locale("zh_CN"):
        assert f">{SERVICE_OFFERED_LABELS[False]}</option>" in page  # 停止提供
    assert "暂停服务" not in page  # what the catalogue alone called it


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_administration_names_accounts_and_organizations_as_the_accounts_labels(
        app, login_as, locale):
    suspended = create_organization(status=OrganizationStatus.SUSPENDED)
    create_user(organization=suspended, is_active=False)
    client = login_as(create_admin(locale=locale))
    users = client.get("/admin/users").get_data(as_text=True)
    organizations = client.get("/admin/organizations").get_data(as_text=True)
    with app.test_request_context(), force_locale(locale):
        for active, title in ACCOUNT_STATUS_TITLES.items():
            assert f">{title}</span>" in users, active  # the badges
            assert f">{title}</option>" in users, active  # the filter
        for status, title in ORGANIZATION_STATUS_TITLES.items():
            assert f">{title}</span>" in organizations, status
            assert f">{title}</option>" in organizations, status
