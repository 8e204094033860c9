"""Both message catalogues are complete and match the strings in the code, and answers come
in the reader's language."""

import collections
import contextvars
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string, request, session
from flask_babel import force_locale, gettext, refresh
from werkzeug.datastructures import Headers

from labbook import i18n
from labbook.booking.models import BookingState
from labbook.orders.models import LineState
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_service,
    create_user,
)
from tests.orders.factories import create_order

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "labbook" / "translations"


def catalogue(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def extracted_ids(tmp_path: Path) -> set:
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract",
                    "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
                    "--ignore-dirs=.venv node_modules", "-o", str(pot), str(ROOT)],
                   check=True, capture_output=True, cwd=ROOT)
    with pot.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_no_message_is_translated_twice(locale):
    """Areas append to one catalogue; a message added twice compiles without a word, and then
    the first translation silently wins in every area (拒收 for a refused invoice). Words that
    mean different things in two areas take a context (pgettext) instead."""
    text = (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    keys = [(context or None, "".join(re.findall(r'"(.*)"', msgid)))
            for context, msgid in re.findall(
                r'^(?:msgctxt "(.*)"\n)?msgid ((?:".*"\n)+)', text, re.M)]
    counts = collections.Counter(key for key in keys if key[1])
    assert [key for key, count in counts.items() if count > 1] == []


def test_catalogues_cover_every_string_in_the_code(tmp_path):
    wanted = extracted_ids(tmp_path)
    for locale in ("zh_Hans_CN", "en"):
        have = {message.id for message in catalogue(locale) if message.id}
        missing = wanted - have
        assert not missing, f"{locale} lacks {sorted(map(str, missing))[:10]}"


def test_every_message_is_translated_and_none_is_fuzzy():
    for locale in ("zh_Hans_CN", "en"):
        for message in catalogue(locale):
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple | list) \
                else [message.string]
            assert all(strings), f"{locale}: {message.id!r} is not translated"
            assert not message.fuzzy, f"{locale}: {message.id!r} is fuzzy"


def test_placeholders_survive_translation():
    import re

    for message in catalogue("zh_Hans_CN"):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple | list) \
            else [message.string]
        for translated in strings:
            assert set(re.findall(r"%\(\w+\)\w", source)) == \
                set(re.findall(r"%\(\w+\)\w", translated)), message.id


def test_one_chinese_word_for_each_booking_term():
    """A booking's state and the charge it leads to are called the same in Chinese."""
    translated = {message.id: message.string for message in catalogue("zh_Hans_CN")
                  if isinstance(message.id, str)}
    assert translated["no-show"] == translated["No-show"] == "爽约"


# -- answers in the reader's language ---------------------------------------------------------


@pytest.fixture
def cancelled_booking():
    lab = create_lab()
    booking = create_booking(instrument=create_instrument(lab=lab),
                             state=BookingState.CANCELLED)
    return lab, booking


def test_a_refused_booking_change_names_both_states_in_chinese(client, cancelled_booking):
    lab, booking = cancelled_booking
    manager = create_manager(lab, locale="zh_CN")
    response = client.post(f"/api/v1/bookings/{booking.id}/approve", headers=bearer(manager))
    assert response.status_code == 409 and response.json["code"] == "invalid_state"
    message = response.json["title"]
    assert "已取消" in message and "已批准" in message
    assert "cancelled" not in message and "approved" not in message


def test_a_refused_order_change_names_the_state_in_chinese(client):
    service = create_service()
    requester = create_user(locale="zh_CN")
    line = create_order(service, requester, line_state=LineState.WAITING)
    manager = create_manager(service.lab, locale="zh_CN")
    url = f"/api/v1/orders/{line.order_id}/cancel"
    assert client.post(url, headers=bearer(manager)).status_code == 200
    response = client.post(url, headers=bearer(manager))
    assert response.status_code == 409 and response.json["code"] == "invalid_state"
    message = response.json["title"]
    assert "已取消" in message and "委托单" in message
    assert "cancelled" not in message


def test_the_api_answers_in_the_token_owners_language(client, cancelled_booking):
    lab, booking = cancelled_booking
    manager = create_manager(lab, locale="en")
    response = client.post(f"/api/v1/bookings/{booking.id}/approve", headers=bearer(manager))
    assert response.json["title"] == \
        "A booking that is “cancelled” cannot become “approved”."


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.5", "状态为“已取消”的预约不能变为“已批准”。"),
    ("en-US", "A booking that is “cancelled” cannot become “approved”."),
    ("fr-FR", "A booking that is “cancelled” cannot become “approved”."),  # none we speak
])
def test_accept_language_wins_over_the_saved_language(client, cancelled_booking, header,
                                                      expected):
    lab, booking = cancelled_booking
    manager = create_manager(lab, locale="en")
    response = client.post(f"/api/v1/bookings/{booking.id}/approve",
                           headers={**bearer(manager), "Accept-Language": header})
    assert response.json["title"] == expected


def test_without_a_token_the_api_follows_accept_language(client):
    unknown = {"Authorization": "Bearer lb_unknown"}
    assert client.get("/api/v1/bookings", headers=unknown).json["title"] == \
        "API 令牌无效或已被撤销。"
    english = client.get("/api/v1/bookings", headers={**unknown, "Accept-Language": "en"})
    assert english.json["title"] == "The API token is unknown or has been revoked."


def test_pages_keep_the_users_choice_whatever_the_browser_asks(client, login_as):
    user = create_user(locale="zh_CN")
    page = login_as(user).get("/", headers={"Accept-Language": "en-US"})
    assert 'lang="zh-CN"' in page.get_data(as_text=True)


@pytest.mark.parametrize(("header", "lang"), [
    ("en-US,en;q=0.9", "en"),
    ("en-GB,zh-CN;q=0.8", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("fr-FR,de;q=0.5", "zh-CN"),  # none we speak: Chinese stays the default
    ("*", "zh-CN"),
    ("", "zh-CN"),
])
def test_a_first_visit_comes_in_the_browsers_language(client, header, lang):
    page = client.get("/", headers={"Accept-Language": header} if header else {})
    assert f'<html lang="{lang}"' in page.get_data(as_text=True)
    assert {"Accept-Language", "Cookie"} <= set(page.vary)


def test_the_switch_wins_over_the_browsers_language(client):
    english = {"Accept-Language": "en-US,en;q=0.9"}
    page = client.get("/", headers=english)
    client.post("/language", data={"locale": "zh_CN", "next": "/"}, headers=english)
    assert '<html lang="zh-CN"' in client.get("/", headers=english).get_data(as_text=True)
    assert '<html lang="en"' in page.get_data(as_text=True)


def test_an_answer_that_speaks_no_language_does_not_vary_by_it(client):
    response = client.get("/static/css/labbook.css", headers={"Accept-Language": "en"})
    response.close()
    assert response.status_code == 200 and "Accept-Language" not in response.vary


def test_an_answer_chosen_by_accept_language_varies_by_it_and_by_the_cookie(make_app):
    other = make_app()

    @other.get("/test-vary")
    def speaks():
        i18n.select_locale()
        return "ok", 200, {"Vary": request.args["vary"]} if "vary" in request.args else {}

    client = other.test_client()
    assert client.get("/test-vary").headers.getlist("Vary") == ["Accept-Language, Cookie"]
    assert client.get("/test-vary", query_string={"vary": "Origin"}).headers.getlist("Vary") \
        == ["Origin, Accept-Language, Cookie"]
    assert client.get("/test-vary", query_string={"vary": "cookie"}).headers.getlist("Vary") \
        == ["cookie, Accept-Language"]


def test_a_header_is_found_whatever_its_case_and_a_missing_one_is_not():
    headers = Headers([("vary", "Origin"), ("Content-Type", "text/plain")])
    assert i18n.has_header(headers, "Vary") and i18n.has_header(headers, "content-type")
    assert not i18n.has_header(headers, "Cache-Control")
    assert not i18n.has_header(Headers(), "Vary")


#: A page's texts, through each of the template's translation functions.
PAGE = ("{{ _('Too many requests') }} {{ ngettext('%(num)d day', '%(num)d days', 2) }} "
        "{{ pgettext('document', 'Test report') }}")


def test_the_translations_remembered_in_a_request_follow_its_locale(app):
    """Each text is looked up in the language the request speaks at that moment: a locale
    forced for an e-mail, and the one chosen anew after ``refresh``."""
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert gettext("Too many requests") == "Too many requests"
        assert i18n.is_english()
        with force_locale("zh_CN"):
            assert render_template_string(PAGE) == "请求过于频繁 2 天 检测报告"
            assert gettext("Too many requests") == "请求过于频繁"
            assert not i18n.is_english()
        assert render_template_string(PAGE) == "Too many requests 2 days Test report"
        assert gettext("Too many requests") == "Too many requests"
        assert i18n.is_english()
        session["locale"] = "zh_CN"
        refresh()
        assert gettext("Too many requests") == "请求过于频繁"
        assert not i18n.is_english()


def test_outside_a_request_texts_follow_the_forced_locale_and_default_to_chinese(app):
    with app.app_context():  # a fresh one, as a job has: no locale chosen yet
        assert i18n.current_locale() is not None and not i18n.is_english()
        assert gettext("Too many requests") == "请求过于频繁"
        with force_locale("en"):
            assert gettext("Too many requests") == "Too many requests"
            assert i18n.is_english()
        assert gettext("Too many requests") == "请求过于频繁"
    # Outside any app context there is no catalogue: the text as written.
    assert contextvars.Context().run(gettext, "Too many requests") == "Too many requests"
    assert contextvars.Context().run(i18n.current_locale) is None


#: Texts as labbook's modules translate them: plain, with parameters, with a plural.
SAID = (("Too many requests", {}), ("Unknown lab %(code)s.", {"code": "XRD"}))


def said_by(gettext_, ngettext_) -> list[str]:
    return [*(gettext_(text, **parameters) for text, parameters in SAID),
            *(ngettext_("%(num)d day", "%(num)d days", n) for n in (1, 3))]


def test_labbooks_translation_functions_say_what_flask_babels_say(app):
    """``i18n.gettext``, ``ngettext`` and ``lazy_gettext`` give flask_babel's texts in every
    language a request or a job may be in, and the text as written outside an app context."""
    import flask_babel

    def ours() -> list[str]:
        return said_by(i18n.gettext, i18n.ngettext)

    def theirs() -> list[str]:
        return said_by(flask_babel.gettext, flask_babel.ngettext)

    def in_a_request(language: str, expected: str) -> None:
        with app.test_request_context("/", headers={"Accept-Language": language}):
            assert ours() == theirs() and expected in ours()
            with force_locale("zh_CN" if language == "en" else "en"):
                assert ours() == theirs() and expected not in ours()
            assert str(i18n.lazy_gettext("Unknown lab %(code)s.", code="XRD")) == expected

    def in_a_job() -> None:
        with app.app_context():
            assert ours() == theirs() and "未知实验室 XRD。" in ours()

    # Each in a context of its own, as a request and a job have.
    contextvars.Context().run(in_a_request, "en", "Unknown lab XRD.")
    contextvars.Context().run(in_a_request, "zh-CN", "未知实验室 XRD。")
    contextvars.Context().run(in_a_job)
    assert contextvars.Context().run(ours) == contextvars.Context().run(theirs) \
        == ["Too many requests", "Unknown lab XRD.", "1 day", "3 days"]
