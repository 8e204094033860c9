"""A month of charges on the instruments of two owner units, with figures worked out by hand
(see ``test_settlements``)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from labbook.billing.models import ChargeKind
from labbook.catalogue.models import Owner, OwnerKind
from labbook.extensions import db
from labbook.owners.models import OwnerAgreement
from tests.factories import (
    create_charge,
    create_instrument,
    create_lab,
    create_organization,
    create_service,
    lab_time,
)

NOVEMBER = dt.date(2026, 11, 1)


def create_owner(code: str, kind: OwnerKind = OwnerKind.ENTERPRISE) -> Owner:
    owner = Owner(code=code, name_zh=f"单位{code}", name_en=f"Owner {code}", kind=kind)
    db.session.add(owner)
    db.session.commit()
    return owner


def agree(owner: Owner, day: dt.date, time: int, testing: int) -> OwnerAgreement:
    agreement = OwnerAgreement(owner_id=owner.id, effective_from=day, time_share_percent=time,
                               testing_share_percent=testing)
    db.session.add(agreement)
    db.session.commit()
    return agreement


@dataclasses.dataclass
class Month:
    owner_a: Owner
    owner_b: Owner
    instruments: list
    customer: object


@pytest.fixture
def month() -> Month:
    lab, other_lab = create_lab(code="SET"), create_lab(code="SEU")
    owner_a, owner_b = create_owner("AAA"), create_owner("BBB")
    agree(owner_a, dt.date(2026, 1, 1), 70, 40)
    agree(owner_a, dt.date(2026, 11, 16), 50, 50)
    agree(owner_b, dt.date(2025, 6, 1), 60, 60)
    i1 = create_instrument(lab=lab, owner=owner_a)
    i2 = create_instrument(lab=lab, owner=owner_a)
    i3 = create_instrument(lab=other_lab, owner=owner_b)
    i4 = create_instrument(lab=lab)
    both = create_service(lab=lab, instruments=[i1, i3])
    only_i2 = create_service(lab=lab, instruments=[i2])
    customer = create_organization(name="客户企业")

    def charge(kind, amount, day, hour=10, minute=0, **where):
        return create_charge(kind=kind, amount=Decimal(amount), organization=customer,
                             lab=where.pop("lab", lab),
                             occurred_at=lab_time(day, hour, minute), **where)

    nov = lambda day: dt.date(2026, 11, day)  # noqa: E731
    charge(ChargeKind.USAGE, "100.01", nov(2), instrument=i1)
    charge(ChargeKind.NO_SHOW, "33.33", nov(20), instrument=i2)
    charge(ChargeKind.SERVICE, "100.01", nov(10), service=both)
    charge(ChargeKind.SERVICE, "80.00", nov(25), service=only_i2)
    charge(ChargeKind.ADJUSTMENT, "-10.00", nov(26), instrument=i1)
    charge(ChargeKind.ADJUSTMENT, "-20.00", nov(26))
    charge(ChargeKind.USAGE, "50.00", nov(27), instrument=i4)
    charge(ChargeKind.USAGE, "10.00", nov(30), 23, 59, instrument=i3, lab=other_lab)
    # Outside the month by a minute each way.
    charge(ChargeKind.USAGE, "999.00", dt.date(2026, 12, 1), 0, 0, instrument=i3,
           lab=other_lab)
    charge(ChargeKind.USAGE, "999.00", dt.date(2026, 10, 31), 23, 59, instrument=i3,
           lab=other_lab)
    return Month(owner_a, owner_b, [i1, i2, i3, i4], customer)
