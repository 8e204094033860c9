"""Testing orders under concurrent requests: intakes numbering samples at the same moment, two
intakes of one order, and two signatories approving one report.

Sample numbers come from the lab's counter row, moved on in SQL under its lock, so intakes of
different orders at one moment hand out each number once and leave no gap; of two intakes of
one order, or two approvals of one report, exactly one succeeds and the other is refused.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labbook.extensions import db
from labbook.orders.models import Capability, Report, ReportState, Sample
from tests.factories import create_user
from tests.orders.conftest import Scene, build_scene, grant, receive_all, submit, work_line
from tests.races.harness import Call, api_headers, assert_answered, fire, play_rounds

pytestmark = pytest.mark.slow

ROUNDS = 6


@pytest.fixture
def scene() -> Scene:
    return build_scene()


def intake_call(order: dict, headers: dict[str, str]) -> Call:
    samples = [sample for line in order["lines"] for sample in line["samples"]]
    return Call("receive", "POST", f"/api/v1/orders/{order['id']}/intake", headers,
                {"samples": [{"sample_id": sample["id"], "status": "accepted"}
                             for sample in samples]})


def numbers() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(Sample.number).where(Sample.number.is_not(None))))


def test_intakes_of_different_orders_number_each_sample_once(server, client, scene):
    headers = api_headers(scene.manager)

    def play(_round: int) -> None:
        before = len(numbers())
        orders = [submit(client, scene, samples=3) for _ in range(4)]
        answers = fire(server, [intake_call(order, headers) for order in orders])
        assert_answered(answers)
        assert [answer.status for answer in answers] == [200] * 4, [str(a) for a in answers]
        given = numbers()
        assert len(given) == len(set(given)) == before + 12
        sequence = sorted(int(number.rsplit("-", 1)[1]) for number in given)
        assert sequence == list(range(1, before + 13))

    play_rounds(play, rounds=ROUNDS)


def test_two_intakes_of_one_order(server, client, scene):
    first, second = api_headers(scene.manager), api_headers(scene.analyst)

    def play(_round: int) -> None:
        order = submit(client, scene, samples=2)
        answers = fire(server, [intake_call(order, first), intake_call(order, second)])
        assert_answered(answers)
        assert sorted(answer.status for answer in answers) == [200, 409]
        db.session.rollback()
        got = db.session.scalars(select(Sample.number).join(Sample.line)
                                 .where(Sample.number.is_not(None))).all()
        assert len(got) == len(set(got))

    play_rounds(play, rounds=ROUNDS)


def test_two_signatories_approve_one_report(server, client, scene):
    second_signatory = create_user(name="陈批准")
    grant(scene.lab, second_signatory, Capability.SIGNATORY)
    signatories = [api_headers(scene.signatory), api_headers(second_signatory)]
    reviewers = [api_headers(scene.reviewer)]
    other_reviewer = create_user(name="周复核")
    grant(scene.lab, other_reviewer, Capability.REVIEWER)
    reviewers.append(api_headers(other_reviewer))

    def play(_round: int) -> None:
        order = work_line(client, scene, receive_all(client, scene, submit(client, scene)))
        base = f"/api/v1/orders/{order['id']}/reports"
        prepared = client.post(base, headers=scene.headers(scene.analyst),
                               json={"conclusion": "符合要求。"}).json
        report_id = prepared["reports"][0]["id"]
        reviewed = fire(server, [Call("review", "POST", f"{base}/{report_id}/review", headers)
                                 for headers in reviewers])
        assert_answered(reviewed)
        assert sorted(answer.status for answer in reviewed) == [200, 409]
        approved = fire(server, [Call("approve", "POST", f"{base}/{report_id}/approve", headers)
                                 for headers in signatories])
        assert_answered(approved)
        assert sorted(answer.status for answer in approved) == [200, 409]
        db.session.rollback()
        report = db.session.get(Report, report_id)
        assert report.state == ReportState.ISSUED and report.sha256 is not None
        winner = next(answer for answer in approved if answer.status == 200)
        assert winner.body["reports"][0]["sha256"] == report.sha256

    play_rounds(play, rounds=ROUNDS)
