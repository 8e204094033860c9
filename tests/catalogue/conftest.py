import datetime as dt

import pytest

from labbook.catalogue.loader import LoadReport, load_catalogue
from labbook.extensions import db


@pytest.fixture
def catalogue() -> LoadReport:
    """The shipped catalogue of the three labs, loaded."""
    return load_catalogue(db.session, dt.date(2026, 11, 27))
