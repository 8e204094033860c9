"""What makes a statement one can pay from: the payee (the institute's account, from the
settings), the amount in words, the reference to quote, and the public check of a statement by
its verification code (number, masked customer, total to pay and state only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.billing.models import Statement, StatementState
from labbook.billing.words import amount_in_words

#: The settings that name the payee, and what each is called on a statement.
PAYEE_SETTINGS = ("LABBOOK_PAYEE_NAME", "LABBOOK_PAYEE_BANK", "LABBOOK_PAYEE_ACCOUNT",
                  "LABBOOK_PAYEE_TAX_ID")


@dataclass(frozen=True)
class Payee:
    """收款单位, 开户行, 账号, 税号."""

    name: str
    bank: str
    account: str
    tax_id: str

    @property
    def has_bank_details(self) -> bool:
        return bool(self.bank and self.account)


def payee_from(settings: Mapping[str, object]) -> Payee:
    name, bank, account, tax_id = (str(settings.get(key) or "").strip()
                                   for key in PAYEE_SETTINGS)
    return Payee(name=name, bank=bank, account=account, tax_id=tax_id)


def mask_name(name: str) -> str:
    """A customer's name as a public page shows it: the first two and last two characters,
    the rest as asterisks (焦作**********公司); short names keep only their first character."""
    name = name.strip()
    if len(name) <= 4:
        return name[:1] + "*" * (len(name) - 1)
    return name[:2] + "*" * (len(name) - 4) + name[-2:]


def in_words(statement: Statement) -> str:
    """The amount to pay in capitals (人民币大写)."""
    return amount_in_words(statement.amount_due)


@dataclass(frozen=True)
class VerifiedStatement:
    number: str
    customer: str
    period: str
    amount_due: Decimal
    state: StatementState


def verify(session: Session, code: str) -> VerifiedStatement | None:
    """The public facts of the issued statement with verification ``code``, or None."""
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    statement = session.scalars(select(Statement).where(Statement.verification_code == code,
                                                        Statement.state != StatementState.DRAFT)
                                ).first()
    if statement is None:
        return None
    return VerifiedStatement(number=statement.number,
                             customer=mask_name(statement.organization.name),
                             period=statement.period, amount_due=statement.amount_due,
                             state=statement.state)
