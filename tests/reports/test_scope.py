"""Which labs and which organization a report covers, by who asks: an admin every lab, a
manager their own, a researcher their organization's use; anything else is refused, saying why.
"""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from labbook.core.errors import NotFound, PermissionDenied
from labbook.extensions import db
from labbook.reports import periods
from tests.factories import create_admin, create_lab, create_manager, create_user


@pytest.fixture(autouse=True)
def english():
    with force_locale("en"):
        yield


@pytest.fixture
def labs():
    # Made out of order: every list is by code.
    return {code: create_lab(code=code) for code in ("NEM", "CHM", "MFG")}


def test_an_admin_reports_on_every_lab_or_one(labs):
    admin = create_admin()
    assert periods.can_view_lab_reports(admin)
    assert [lab.code for lab in periods.lab_scope(db.session, admin).labs] == [
        "CHM", "MFG", "NEM"]
    scope = periods.lab_scope(db.session, admin, " nem ")
    assert scope.labs == (labs["NEM"],) and scope.lab_ids == [labs["NEM"].id]
    assert scope.organization is None


def test_a_manager_reports_on_their_own_labs_only(labs):
    manager = create_manager(labs["NEM"])
    manager.managed_labs.append(labs["CHM"])
    db.session.commit()
    assert periods.can_view_lab_reports(manager)
    assert {lab.code for lab in periods.lab_scope(db.session, manager).labs} == {"CHM", "NEM"}
    assert periods.lab_scope(db.session, manager, "CHM").labs == (labs["CHM"],)
    with pytest.raises(PermissionDenied) as refused:
        periods.lab_scope(db.session, manager, "mfg")
    assert refused.value.message == "You do not manage lab MFG."
    with pytest.raises(NotFound) as unknown:
        periods.lab_scope(db.session, manager, "XYZ")
    assert unknown.value.message == "Unknown lab XYZ."


def test_researchers_get_no_lab_reports(labs):
    researcher = create_user()
    assert not periods.can_view_lab_reports(researcher)
    for code in (None, "NEM"):
        with pytest.raises(PermissionDenied) as refused:
            periods.lab_scope(db.session, researcher, code)
        assert refused.value.message == "Lab reports are for lab managers and administrators."


@pytest.mark.parametrize("role", ["researcher", "manager", "admin"])
def test_usage_is_the_own_organizations_in_every_lab_or_one(labs, role):
    actor = {"researcher": create_user, "manager": lambda: create_manager(labs["NEM"]),
             "admin": create_admin}[role]()
    scope = periods.usage_scope(db.session, actor)
    assert [lab.code for lab in scope.labs] == ["CHM", "MFG", "NEM"]
    assert scope.organization == actor.organization is not None
    scope = periods.usage_scope(db.session, actor, "mfg")
    assert (scope.labs, scope.organization) == ((labs["MFG"],), actor.organization)
    with pytest.raises(NotFound):
        periods.usage_scope(db.session, actor, "XYZ")


def test_usage_needs_an_organization(labs):
    with pytest.raises(PermissionDenied) as refused:
        periods.usage_scope(db.session, create_user(organization=None))
    assert refused.value.message == "Your account belongs to no organization."
