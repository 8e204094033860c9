"""统一社会信用代码 (Unified Social Credit Code, GB 32100-2015) validation."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class InvalidUSCC(ValueError):
    """Why a code is not a valid 统一社会信用代码."""


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(char) * weight
                for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(code: str) -> str:
    """Return the code upper-cased and stripped, or raise InvalidUSCC saying what is wrong."""
    code = code.strip().upper()
    if len(code) != 18:
        raise InvalidUSCC(f"must be 18 characters, got {len(code)}")
    bad = sorted({char for char in code if char not in ALPHABET})
    if bad:
        raise InvalidUSCC(f"contains characters not allowed: {''.join(bad)}")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidUSCC(f"check character should be {expected}, got {code[17]}")
    return code


def is_valid_uscc(code: str) -> bool:
    try:
        normalize_uscc(code)
    except InvalidUSCC:
        return False
    return True
