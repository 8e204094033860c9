"""Password material that is not a rule of its own: well-known passwords and reset tokens."""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, URLSafeTimedSerializer

#: Passwords that pass the other rules (10 characters or more, letters mixed with digits or
#: symbols) yet lead every leaked-password list, in English and in Chinese pinyin habits. They
#: are compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "password123", "password1234", "password12345", "password@123", "password!123",
    "passw0rd123", "p@ssw0rd123", "p@ssword123", "qwerty12345", "qwerty123456",
    "qwertyuiop1", "qwertyuiop123", "1qaz2wsx3edc", "1qaz@wsx3edc", "1q2w3e4r5t",
    "1q2w3e4r5t6y", "q1w2e3r4t5", "a1b2c3d4e5", "abc1234567", "abc12345678", "abc123456789",
    "abcd123456", "abcd1234567", "a123456789", "a1234567890", "aa123456789", "aa12345678",
    "qq123456789", "qq12345678", "zxcvbnm123", "asdfghjkl1", "asdf123456", "iloveyou123",
    "iloveyou1314", "woaini1314", "woaini5201314", "woaini123456", "5201314abc", "abc5201314",
    "admin12345", "admin123456", "administrator1", "welcome123", "welcome1234", "changeme123",
    "letmein123", "test123456", "test1234567", "user123456", "123456abcd", "123456789a",
    "1234567890a", "12345678abc", "123qweasdzxc", "qweasdzxc123", "123456qwerty",
    "labbook123", "labbook2026",
})

_RESET_SALT = "labbook.password-reset"


def is_common(password: str) -> bool:
    return password.casefold() in COMMON_PASSWORDS


def fingerprint(password_hash: str) -> str:
    """A digest of the password hash that changes with the password, for what must stop
    working when it does (reset links, sign-in sessions); not the hash itself, because a
    token's payload and a session cookie are signed but readable."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_RESET_SALT)


def reset_token(user_id: int, password_hash: str, secret_key: str) -> str:
    """A signed token for setting user ``user_id``'s password.

    It carries a fingerprint of the current password hash, so it stops working the moment the
    password changes — which makes it single-use.
    """
    return _serializer(secret_key).dumps({"user": user_id,
                                          "password": fingerprint(password_hash)})


def read_reset_token(token: str, secret_key: str, max_age: int) -> tuple[int, str]:
    """The user id and password fingerprint in ``token``.

    Raises itsdangerous' SignatureExpired for an old token, BadSignature for anything else that
    is not a token of ours.
    """
    payload = _serializer(secret_key).loads(token, max_age=max_age)
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int) \
            or not isinstance(payload.get("password"), str):
        raise BadSignature("unexpected payload")
    return payload["user"], payload["password"]


def token_matches(password_hash: str, carried: str) -> bool:
    """Whether a token (or session) carrying the fingerprint ``carried`` was made for the
    password ``password_hash``."""
    return hmac.compare_digest(fingerprint(password_hash), carried)
