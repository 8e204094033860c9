import pytest

from labbook.accounts.uscc import InvalidUSCC, check_character, is_valid_uscc, normalize_uscc


def test_check_character_follows_gb_32100():
    # By hand: values 9,1,3,5,0,1,0,0,M=21,0,0,0,1,0,0,6,8 times the weights
    # 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28 sum to 1032; 1032 mod 31 = 9;
    # 31 - 9 = 22, which is N in the 31-character alphabet.
    assert check_character("91350100M00010068") == "N"


def test_valid_code_is_normalized():
    assert normalize_uscc(" 91350100m00010068n ") == "91350100M00010068N"


@pytest.mark.parametrize(("code", "reason"), [
    ("91350100M00010068", "18 characters"),
    ("91350100M00010068U", "check character should be N"),
    ("91350100I00010068N", "not allowed: I"),
    ("91350100O00010068N", "not allowed: O"),
])
def test_invalid_codes_say_why(code, reason):
    with pytest.raises(InvalidUSCC, match=reason):
        normalize_uscc(code)
    assert not is_valid_uscc(code)
