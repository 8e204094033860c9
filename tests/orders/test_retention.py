"""Remains are kept for the service's retention period after the report, a daily job tells the
lab's managers what is due, and the return or disposal is recorded."""

import datetime as dt

from labbook.extensions import db
from labbook.jobs.registry import JOBS, run_job
from labbook.notify.models import OutboxMessage
from labbook.orders.models import ServiceTestSettings
from tests.orders.conftest import issue_report, receive_all, submit, work_line


def _due_messages() -> list[OutboxMessage]:
    db.session.rollback()  # what the job committed, not this session's old snapshot
    return list(db.session.scalars(db.select(OutboxMessage)
                                   .where(OutboxMessage.kind == "retention_due")))


def test_remains_are_kept_for_the_service_period_then_listed_and_recorded(client, scene, app):
    db.session.add(ServiceTestSettings(service_id=scene.service.id, retention_days=30))
    db.session.commit()
    order = issue_report(client, scene, work_line(client, scene, receive_all(
        client, scene, submit(client, scene, samples=2), refused=1)))
    issued_on = dt.date.fromisoformat(order["reports"][0]["issued_on"])
    kept, refused = sorted(order["lines"][0]["samples"], key=lambda s: s["number"] or "~")
    assert kept["retention"]["retain_until"] == (issued_on + dt.timedelta(days=30)).isoformat()
    assert refused["retention"]["retain_until"] is None

    job = JOBS["retention-due"]
    assert run_job(app, job, now=dt.datetime.now(dt.UTC))
    assert _due_messages() == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert run_job(app, job, now=later)
    assert run_job(app, job, now=later)  # the same day again: nothing more
    [message] = _due_messages()
    assert message.recipient == scene.manager.email and kept["number"] in message.body_text

    url = f"/api/v1/orders/{order['id']}/samples/{kept['id']}/retention"
    assert client.post(url, headers=scene.headers(scene.customer),
                       json={"disposition": "disposed"}).status_code == 403
    assert client.post(url, headers=scene.headers(scene.manager),
                       json={"disposition": "kept"}).json["code"] == "invalid_choice"
    done = client.post(url, headers=scene.headers(scene.manager),
                       json={"disposition": "disposed", "note": "按危废处置"})
    assert done.status_code == 200
    sample = next(s for s in done.json["lines"][0]["samples"] if s["id"] == kept["id"])
    assert sample["retention"]["disposition"] == "disposed"
    again = client.post(url, headers=scene.headers(scene.manager),
                        json={"disposition": "returned"})
    assert again.status_code == 409
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    assert run_job(app, job, now=later + dt.timedelta(days=1))
    assert _due_messages() == []
