"""Post/Redirect/Get for refused forms, and a language switch that never loses work
(labbook.web: keep_refused, restore_kept, page_to_return_to)."""

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from labbook.booking.models import Booking
from labbook.extensions import db
from labbook.web import KEPT_FORM, keep_refused
from tests.booking.test_views import MONDAY, SATURDAY, form
from tests.factories import create_instrument, create_user


@pytest.fixture
def instrument():
    return create_instrument(code="NEM-901", name_zh="X 射线衍射仪", name_en="X-ray diffractometer")


def switch(client, locale: str, next_page: str, **headers):
    return client.post("/language", data={"locale": locale, "next": next_page},
                       headers=headers)


def test_a_refused_booking_survives_reload_and_the_language_switch(login_as, instrument):
    client = login_as(create_user(locale="zh_CN"))
    calendar = f"/instruments/{instrument.id}/calendar"
    refused = client.post(f"/instruments/{instrument.id}/book",
                          data=form(day=SATURDAY, purpose="周末测样 XRD"))
    assert refused.status_code == 303 and refused.headers["Location"] == calendar

    chinese = client.get(calendar).get_data(as_text=True)
    assert 'data-code="outside_hours"' in chinese and "周末测样 XRD" in chinese
    assert f'value="{SATURDAY.isoformat()}"' in chinese
    reloaded = client.get(calendar).get_data(as_text=True)  # a reload shows it again
    assert 'data-code="outside_hours"' in reloaded and "周末测样 XRD" in reloaded

    answer = switch(client, "en", calendar)
    assert answer.status_code == 303 and answer.headers["Location"] == calendar
    english = client.get(calendar).get_data(as_text=True)
    assert '<html lang="en"' in english
    assert "The booking could not be made." in english
    assert 'data-code="outside_hours"' in english and "周末测样 XRD" in english
    assert f'value="{SATURDAY.isoformat()}"' in english
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_the_fields_own_checks_speak_the_language_switched_to(login_as, instrument):
    client = login_as(create_user(locale="zh_CN"))
    calendar = f"/instruments/{instrument.id}/calendar"
    client.post(f"/instruments/{instrument.id}/book", data=form(purpose="", start="9:7x"))
    chinese = client.get(calendar).get_data(as_text=True)
    assert "请修改表单中的错误。" in chinese and 'value="9:7x"' in chinese
    switch(client, "en", calendar)
    english = client.get(calendar).get_data(as_text=True)
    assert "Please correct the form." in english and 'value="9:7x"' in english
    assert "请" not in english.split("<main", 1)[1].split("</main>", 1)[0]


def test_a_new_submit_replaces_what_was_kept(login_as, instrument):
    client = login_as(create_user())
    calendar = f"/instruments/{instrument.id}/calendar"
    client.post(f"/instruments/{instrument.id}/book", data=form(day=SATURDAY, purpose="甲"))
    assert client.post(f"/instruments/{instrument.id}/book",
                       data=form(day=MONDAY, purpose="乙")).status_code == 302
    page = client.get(calendar).get_data(as_text=True)
    assert "甲" not in page and 'data-code="outside_hours"' not in page


def test_another_page_shows_nothing_kept_for_this_one(login_as, instrument):
    other = create_instrument(code="NEM-902")
    client = login_as(create_user())
    client.post(f"/instruments/{instrument.id}/book", data=form(day=SATURDAY, purpose="甲乙丙"))
    assert "甲乙丙" not in client.get(f"/instruments/{other.id}/calendar").get_data(as_text=True)


@pytest.mark.parametrize("next_page", ["/instruments/1/book", "/language", "https://evil.example/",
                                       "//evil.example/x", ""])
def test_the_switch_never_leads_to_an_address_that_only_takes_forms(client, next_page):
    answer = switch(client, "en", next_page)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_page_that_answered_a_post_switches_back_to_where_the_form_was_sent(client):
    # A form too large to keep is shown as the POST's answer.
    page = client.post("/login", data={"email": "长" * 3000, "password": "x"},
                       headers={"Referer": "http://localhost/login?next=/bookings"})
    assert page.status_code == 200
    assert 'name="next" value="/login?next=/bookings"' in page.get_data(as_text=True)


@pytest.mark.parametrize(("locale", "text"), [
    ("zh_CN", "此地址只接受从页面提交的表单"),
    ("en", "This address only takes a form sent from a page"),
])
def test_the_405_page_speaks_the_visitors_language(client, locale, text):
    switch(client, locale, "/")
    page = client.get("/language", headers={"Referer": "http://localhost/instruments"})
    assert page.status_code == 405
    html = page.get_data(as_text=True)
    assert text in html and 'href="/instruments"' in html
    assert "The method is not allowed" not in html


class SecretForm(FlaskForm):
    name = StringField(validators=[InputRequired()])
    password = PasswordField()
    api_token = StringField()


def test_the_csrf_token_and_secrets_are_never_kept(app):
    data = {"name": "", "password": "hunter2-hunter2", "api_token": "lb_x", "csrf_token": "c"}
    with app.test_request_context("/somewhere", method="POST", data=data):
        from flask import session

        secret = SecretForm(meta={"csrf": False})
        secret.validate()
        answer = keep_refused(secret)
        kept = session[KEPT_FORM]
    assert answer.status_code == 303 and answer.headers["Location"] == "/somewhere"
    assert dict(kept["data"]) == {"name": ""}
    assert "hunter2" not in repr(kept) and "lb_x" not in repr(kept)
    assert kept["errors"] == {}  # the field's own check is made again on the page


class PinForm(FlaskForm):
    name = StringField(validators=[InputRequired()])
    pin = PasswordField()


def test_a_password_of_a_prefixed_form_is_never_kept_whatever_its_name(app):
    data = {"door-name": "", "door-pin": "4711-secret-pin", "door-csrf_token": "c"}
    with app.test_request_context("/somewhere", method="POST", data=data):
        from flask import session

        pin = PinForm(prefix="door", meta={"csrf": False})
        pin.validate()
        keep_refused(pin)
        kept = session[KEPT_FORM]
    assert dict(kept["data"]) == {"door-name": ""}
    assert "4711" not in repr(kept)


def test_a_form_too_large_for_the_session_cookie_is_shown_as_before(app):
    with app.test_request_context("/somewhere", method="POST", data={"name": "长" * 3000}):
        large = SecretForm(meta={"csrf": False})
        large.name.errors = ["refused"]
        assert keep_refused(large) is None


def test_the_calendars_own_check_keeps_what_was_kept(login_as, instrument):
    client = login_as(create_user())
    calendar = f"/instruments/{instrument.id}/calendar"
    client.post(f"/instruments/{instrument.id}/book", data=form(day=SATURDAY, purpose="甲乙丙"))
    client.post(f"/instruments/{instrument.id}/check", json={
        "start": f"{SATURDAY.isoformat()}T15:00:00+08:00",
        "end": f"{SATURDAY.isoformat()}T16:00:00+08:00"})
    assert "甲乙丙" in client.get(calendar).get_data(as_text=True)


@pytest.mark.parametrize(("said", "said_in", "shown_in", "shown"), [
    ("没有使用电子邮箱 wang@example.cn 的账户。", "zh_Hans_CN", "en",
     "Nobody with the email address wang@example.cn has an account."),
    ("Nobody with the email address wang@example.cn has an account.", "en", "zh_CN",
     "没有使用电子邮箱 wang@example.cn 的账户。"),
    ("纳税人识别号是 18 位的统一社会信用代码。", "zh_Hans_CN", "en",
     "The taxpayer identification number is the 18-character unified social credit code."),
    ("某个不在目录里的说明。", "zh_Hans_CN", "en", "某个不在目录里的说明。"),
    ("没有使用电子邮箱 wang@example.cn 的账户。", "zh_Hans_CN", "zh_CN",
     "没有使用电子邮箱 wang@example.cn 的账户。"),
])
def test_a_kept_refusal_is_said_again_in_the_page_language(app, said, said_in, shown_in, shown):
    """A service's refusal kept across the language switch is a text of the catalogue, its
    parameters read back from what was said; a text the catalogue does not hold stays as it
    was given."""
    from flask import session

    from labbook.i18n import in_page_language

    with app.test_request_context("/"):
        session["locale"] = shown_in
        assert in_page_language(said, said_in) == shown
