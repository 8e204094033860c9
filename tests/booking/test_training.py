"""Training records granted and revoked in bulk: a training session's list of addresses, all
or nothing."""

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.booking import training
from labbook.booking.models import Qualification
from labbook.core.errors import NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from tests.factories import create_instrument, create_lab, create_manager, create_user

NOW = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("a@x.cn, B@x.cn\nc@x.cn", ["a@x.cn", "b@x.cn", "c@x.cn"]),
    ("a@x.cn；b@x.cn，a@x.cn、c@x.cn", ["a@x.cn", "b@x.cn", "c@x.cn"]),
    ("  ", []),
])
def test_parsing_a_list_of_addresses(text, expected):
    assert training.parse_emails(text) == expected


def test_a_training_session_for_several_people_is_all_or_nothing():
    lab = create_lab()
    manager = create_manager(lab)
    instrument = create_instrument(lab=lab)
    people = [create_user(), create_user()]
    with pytest.raises(ValidationError) as refused:
        training.grant_qualifications(db.session, manager,
                                      [people[0].email, "nobody@example.cn"], instrument,
                                      now=NOW)
    assert [p.field for p in refused.value.problems] == ["email"]
    assert db.session.scalars(select(Qualification)).first() is None
    with pytest.raises(PermissionDenied):
        training.grant_qualifications(db.session, create_manager(create_lab()),
                                      [people[0].email], instrument, now=NOW)
    granted = training.grant_qualifications(db.session, manager, [p.email for p in people],
                                            instrument, now=NOW)
    db.session.commit()
    assert [q.user for q in granted] == people

    revoked = training.revoke_qualifications(db.session, manager, [q.id for q in granted],
                                             now=NOW)
    assert all(q.revoked_at == NOW for q in revoked)
    with pytest.raises(NotFound):
        training.revoke_qualifications(db.session, create_manager(create_lab()),
                                       [granted[0].id], now=NOW)
