"""An amount of yuan in capital Chinese numerals (人民币大写), as cheques, bank slips and
statements write it: 贰仟肆佰零肆元整, 壹拾万零伍佰元伍角, 叁佰贰拾伍元零肆分.

The rules are those of the People's Bank of China for filling in payment documents (正确填写票
据和结算凭证的基本规定): the financial digits 零壹贰叁肆伍陆柒捌玖 with 拾佰仟万亿; 拾 always
with its digit (壹拾, not 拾); one 零 for any run of zeros between two digits that are not
zero, none for zeros at the end of the yuan; 整 after an amount that ends at 元 (none after 角
or 分); and 零 after the 元 when the yuan end in zero or there are no 角 (壹仟陆佰捌拾元零叁角
贰分, 伍元零叁分). Where the rules leave the writer a choice, this writes the form they give
first: no 零 for a zero ten-thousands digit before a thousands digit (壹拾万柒仟元).
"""

from __future__ import annotations

from decimal import Decimal

from labbook.core.money import to_fen

DIGITS = "零壹贰叁肆伍陆柒捌玖"
#: The places within a group of four digits, from the units up.
PLACES = ("", "拾", "佰", "仟")
#: The groups of four digits, from the units up.
GROUPS = ("", "万", "亿", "万亿")


def _group_words(group: int) -> str:
    """A group of four digits (1 to 9999) without its leading zeros: 零 for inner zeros."""
    words, pending_zero = "", False
    for place in range(3, -1, -1):
        digit = group // 10**place % 10
        if digit == 0:
            pending_zero = bool(words)
            continue
        if pending_zero:
            words += "零"
            pending_zero = False
        words += DIGITS[digit] + PLACES[place]
    return words


def yuan_words(yuan: int) -> str:
    """Whole yuan in capitals, without the 元: 0 is 零."""
    if yuan == 0:
        return "零"
    groups = []
    while yuan:
        groups.append(yuan % 10_000)
        yuan //= 10_000
    if len(groups) > len(GROUPS):
        raise ValueError("amount too large to write in words")
    words, zero_before = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_before = bool(words)
            continue
        if words and (zero_before or group < 1000):
            words += "零"
        words += _group_words(group) + GROUPS[index]
        zero_before = False
    return words


def amount_in_words(amount: Decimal) -> str:
    """``amount`` (yuan, rounded half-up to the fen) in capitals: 贰仟肆佰零肆元整; a credit
    starts with 负."""
    amount = to_fen(amount)
    sign = "负" if amount < 0 else ""
    fen_total = int(abs(amount) * 100)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    if jiao == 0 and fen == 0:
        return f"{sign}{yuan_words(yuan)}元整"
    words = f"{yuan_words(yuan)}元" if yuan else ""
    if yuan and (jiao == 0 or yuan % 10 == 0):
        words += "零"
    if jiao:
        words += f"{DIGITS[jiao]}角"
    if fen:
        words += f"{DIGITS[fen]}分"
    return sign + words
