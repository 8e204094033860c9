"""Money: exact amounts of yuan as ``Decimal``, rounded half-up to the fen, written and read one
way everywhere.

The database keeps integer fen (``labbook.core.db.Money``). An amount that is computed goes
through ``to_fen`` once per line (lines are rounded, then added up); an amount that is shown
goes through ``format_money``; an amount that someone typed goes through ``read_amount``.
"""

from __future__ import annotations

import enum
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")

#: An amount as people and programs write it: ASCII digits, an optional sign and decimal point.
#: ``Decimal`` alone would also take "1_000", "1e3", full-width digits, "NaN" and "Infinity".
AMOUNT_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def to_fen(amount: Decimal) -> Decimal:
    """Round ``amount`` half-up to the fen, the one rounding every line goes through."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None) -> str:
    """``¥1,234.50``, a credit with its sign in front of the currency (``-¥12.50``), and ``—``
    for no amount. Both languages labbook speaks write amounts of yuan alike, so the text does
    not depend on the reader's locale."""
    if amount is None:
        return "—"
    return f"{'-' if amount < 0 else ''}¥{abs(amount):,.2f}"


class AmountFault(enum.StrEnum):
    """Why a text is no amount of yuan."""

    MALFORMED = "malformed"  # not plain digits with an optional sign and decimal point
    SUB_FEN = "sub_fen"  # more than two decimals


class AmountError(ValueError):
    def __init__(self, fault: AmountFault) -> None:
        super().__init__(fault.value)
        self.fault = fault


def read_amount(value: object) -> Decimal:
    """An amount given as a number or as a text of digits with at most two decimals, in fen.

    Raises ``AmountError`` saying why ``value`` is none; callers word the message for their
    readers.
    """
    is_number = isinstance(value, str | int | float | Decimal) and not isinstance(value, bool)
    text = str(value).strip() if is_number else ""
    if not AMOUNT_PATTERN.fullmatch(text):
        raise AmountError(AmountFault.MALFORMED)
    amount = Decimal(text)
    try:
        whole_fen = amount == amount.quantize(FEN)
    except InvalidOperation:  # beyond the context's 28 digits
        raise AmountError(AmountFault.MALFORMED) from None
    if not whole_fen:
        raise AmountError(AmountFault.SUB_FEN)
    return amount.quantize(FEN)
