"""How to get past a refusal for want of training: whom to ask in the lab (its contact person)
and whether the person has asked for training already, carried by the ``not_qualified``
problem itself so that the form, the live check and the API all say the same."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.catalogue.models import Instrument
from labbook.core.errors import Problem
from labbook.training.models import REQUEST_IS_OPEN, TrainingRequest


def with_training_help(session: Session, actor: User, user: User, instrument: Instrument,
                       problems: list[Problem]) -> list[Problem]:
    """``problems`` with a ``not_qualified`` one (if any) telling ``user`` how to get trained:
    under ``training`` the instrument, the lab's contact person (or None) and when ``user``
    asked for training on it, if a request of theirs is open (or None). Only where ``user``
    is the one refused (``actor``): a lab manager booking for them, or changing their
    booking, is told whose training is missing, and a request for training is the person's
    own to make. Runs on refusals only."""
    if actor.id != user.id or not any(p.code == "not_qualified" for p in problems):
        return problems
    training = training_of(session, user, instrument)
    return [replace(p, extra={**p.extra, "training": training})
            if p.code == "not_qualified" else p for p in problems]


def training_of(session: Session, user: User, instrument: Instrument) -> dict:
    """How ``user`` gets trained on ``instrument`` (the ``training`` of a ``not_qualified``
    problem): the instrument, the lab's contact person (or None) and when ``user`` asked for
    training on it, if a request of theirs is open (or None)."""
    request = session.execute(_open_request(), {"user_id": user.id,
                                                 "instrument_id": instrument.id}).first()
    return {"instrument_id": instrument.id, "lab": instrument.lab.code,
            "contact": instrument.lab.contact,
            "requested_at": request.created_at.isoformat() if request else None,
            "request_id": request.id if request else None}


@cache
def _open_request():
    # Built once, and read as a row: every refusal for want of training asks it, the live
    # check's among them.
    request = TrainingRequest.__table__.c
    return (select(request.id, request.created_at)
            .where(request.user_id == bindparam("user_id"),
                   request.instrument_id == bindparam("instrument_id"),
                   REQUEST_IS_OPEN)
            .order_by(request.created_at.desc()).limit(1))
