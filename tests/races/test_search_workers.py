"""Every worker of a multi-worker server searches the catalogue as it is now: a change
committed anywhere reaches each worker's search index, which is kept between requests."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from labbook.extensions import db
from tests.factories import create_instrument

pytestmark = pytest.mark.slow

#: Requests per round: enough for each of the four workers to answer several.
REQUESTS = 24


def found_codes(base_url: str, q: str) -> list[set[str]]:
    """What each of REQUESTS concurrent searches of the instrument list found."""
    url = f"{base_url}/api/v1/instruments?{urllib.parse.urlencode({'q': q})}"

    def search(_number: int) -> set[str]:
        with urllib.request.urlopen(url, timeout=30) as response:
            return {item["code"] for item in json.load(response)["items"]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(search, range(REQUESTS)))


def test_a_change_reaches_every_workers_index(server):
    instrument = create_instrument(name_en="Alpha Rheometer")
    assert all(codes == {instrument.code} for codes in found_codes(server, "rheometer"))

    instrument.name_en = "Omega Viscometer"
    db.session.commit()  # another process's edit: each worker learns of it from the database

    assert all(codes == {instrument.code} for codes in found_codes(server, "viscometer"))
    assert all(codes == set() for codes in found_codes(server, "rheometer"))
