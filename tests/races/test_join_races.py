"""Two admins deciding one registration at once, and an organization's two admins removing
the same member at once: one decision stands, the other is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import Organization, User
from labbook.audit.models import AuditEvent
from labbook.enterprises.models import OrganizationAdmin, Registration, RegistrationState
from labbook.extensions import db
from tests.factories import create_admin, create_organization, create_user, make_uscc
from tests.races.harness import Call, api_headers, assert_serializable, becomes, fire, play_rounds

pytestmark = pytest.mark.slow

PENDING, APPROVED, REJECTED = (RegistrationState.PENDING, RegistrationState.APPROVED,
                               RegistrationState.REJECTED)


def test_one_registration_decided_twice_at_once_is_decided_once(server):
    admins = [api_headers(create_admin()), api_headers(create_admin())]
    model = {"approve": becomes(APPROVED, PENDING, then=lambda _source, created: created + 1),
             "reject": becomes(REJECTED, PENDING)}

    def play(round_no: int) -> None:
        uscc = make_uscc(700_000 + round_no)
        registration = Registration(
            state=PENDING, organization_name=f"竞争企业{round_no}", uscc=uscc, address="焦作",
            contact_phone="0391", name="注册人", email=f"race{round_no}@example.cn",
            locale="zh_CN", password_hash="x", reason="")
        db.session.add(registration)
        db.session.commit()
        path = f"/api/v1/registrations/{registration.id}"
        # Every other round both approve; else one approves and the other rejects.
        second = ("approve", {"tier": "external"}) if round_no % 2 \
            else ("reject", {"reason": "重复注册"})
        calls = [Call("approve", "POST", f"{path}/approve", admins[0], {"tier": "external"}),
                 Call(second[0], "POST", f"{path}/{second[0]}", admins[1], second[1])]
        answers = fire(server, calls)
        db.session.rollback()
        state = db.session.scalar(select(Registration.state)
                                  .where(Registration.id == registration.id))
        organizations = db.session.scalar(select(func.count()).select_from(Organization)
                                          .where(Organization.uscc == uscc))
        assert_serializable((PENDING.value, 0), model, answers, (state.value, organizations))

    play_rounds(play)


def test_a_member_removed_by_two_admins_at_once_is_removed_once(server):
    def removed(state: tuple[str, int]) -> list[tuple[str, tuple[str, int]]]:
        # Removed once: the member is no longer the organization's, so the second finds none.
        current, events = state
        if current == "removed":
            return [("gone", state)]
        return [("ok", ("removed", events + 1))]

    def play(round_no: int) -> None:
        organization = create_organization()
        first, second = (create_user(organization=organization) for _ in range(2))
        db.session.add_all([OrganizationAdmin(organization_id=organization.id, user_id=first.id),
                            OrganizationAdmin(organization_id=organization.id,
                                              user_id=second.id)])
        member = create_user(organization=organization)
        db.session.commit()
        path = f"/api/v1/organization/members/{member.id}"
        calls = [Call("remove", "DELETE", path, api_headers(admin), statuses={204: "ok",
                                                                                404: "gone"})
                 for admin in (first, second)]
        answers = fire(server, calls)
        db.session.rollback()
        left = db.session.scalar(select(User.organization_id).where(User.id == member.id))
        events = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "remove_member", AuditEvent.object_id == member.id))
        assert left is None
        assert_serializable(("member", 0), {"remove": removed}, answers, ("removed", events))

    play_rounds(play)
