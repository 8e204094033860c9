"""The catalogue files say which owner unit each instrument belongs to: owners.csv and the
owner column of instruments.csv, loaded and checked like the other files."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from labbook.catalogue.loader import CatalogueError, load_catalogue
from labbook.catalogue.models import Instrument, Owner, OwnerKind
from labbook.extensions import db
from tests.catalogue.test_loader import column, data_dir, rewrite  # noqa: F401

TODAY = dt.date(2026, 11, 27)


def test_the_shipped_owners_are_loaded_and_every_instrument_has_one():
    load_catalogue(db.session, TODAY)
    owners = {owner.code: owner for owner in db.session.scalars(select(Owner))}
    assert set(owners) == {"JIIT", "HPU", "DFD", "VICTOR", "MINGREN", "WANFANG"}
    assert owners["JIIT"].kind == OwnerKind.INSTITUTE
    assert all("illustrative" in owner.note.lower() for owner in owners.values())
    assert db.session.scalar(select(func.count()).select_from(Instrument)
                             .where(Instrument.owner_id.is_(None))) == 0
    xrd = db.session.scalar(select(Instrument).where(Instrument.code == "NEM-001"))
    assert xrd.owner.code == "HPU"


def test_an_unknown_owner_is_refused_with_file_line_and_column(data_dir):  # noqa: F811
    path = data_dir / "instruments.csv"
    index = column(path, "owner")

    def spoil(rows):
        rows[2][index] = "NOBODY"

    rewrite(path, spoil)
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(db.session, TODAY, data_dir)
    error = refused.value.errors[0]
    assert (error.file, error.line, error.column) == ("instruments.csv", 3, "owner")
    assert "unknown owner" in error.reason


def test_a_changed_owner_moves_the_instrument(data_dir):  # noqa: F811
    load_catalogue(db.session, TODAY, data_dir)
    path = data_dir / "instruments.csv"
    index = column(path, "owner")

    def move_first(rows):
        rows[1][index] = "WANFANG"

    rewrite(path, move_first)
    report = load_catalogue(db.session, TODAY, data_dir)
    change = next(c for c in report.changes if c.kind == "instruments")
    assert change.changes["owner"] == ("HPU", "WANFANG")
    assert db.session.scalar(select(Instrument).where(Instrument.code == "NEM-001")
                             ).owner.code == "WANFANG"
