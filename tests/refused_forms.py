"""The check every page's refused form passes (Post/Redirect/Get, labbook.web.keep_refused and
restore_kept): the refused POST sends the browser to the page that shows the form; that page
shows what was typed and why it was refused, again on reload, and in the other language after
the switch; and nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask.testing import FlaskClient
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.extensions import db
from labbook.notify.models import OutboxMessage


@dataclass(frozen=True)
class Refusal:
    """A form sent to ``post`` and refused: ``typed`` (HTML fragments: texts, ``value="…"``,
    a selected option) shows it kept on ``page``, with the refusal ``zh`` in Chinese and ``en``
    in English; ``marked`` fields are marked invalid (none where the refusal is of a choice
    among boxes, said above them)."""

    post: str
    page: str
    data: Mapping[str, object]
    typed: Iterable[str]
    zh: str
    en: str
    marked: int = 1


def _main(client: FlaskClient, page: str) -> str:
    answer = client.get(page)
    assert answer.status_code == 200, page
    return answer.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _written() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)))


def assert_kept_through_the_switch(client: FlaskClient, refusal: Refusal,
                                   rows: Callable[[], object]) -> None:
    """``client`` signed in as someone whose language is Chinese; ``rows`` reads what the form
    would have written, to compare before and after."""
    before = (_written(), rows())
    refused = client.post(refusal.post, data=dict(refusal.data))
    assert refused.status_code == 303 and refused.headers["Location"] == refusal.page

    for chinese in (_main(client, refusal.page), _main(client, refusal.page)):  # and a reload
        assert refusal.zh in chinese
        assert all(text in chinese for text in refusal.typed), chinese
        assert chinese.count("is-invalid") == refusal.marked  # the refused form's, no other's

    switched = client.post("/language", data={"locale": "en", "next": refusal.page})
    assert switched.status_code == 303 and switched.headers["Location"] == refusal.page
    english = _main(client, refusal.page)
    assert refusal.en in english and refusal.zh not in english
    assert all(text in english for text in refusal.typed), english
    db.session.expire_all()
    assert (_written(), rows()) == before
