"""Phone numbers to E.164: ``8 916 123-45-67``, ``+7 (916) 123 45 67``, ``79161234567``, ``9161234567`` are one."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class BadPhone(ValueError):
    """The text is not a phone number that can be dialled."""


_SEPARATORS = str.maketrans("", "", " ()-.\u00a0")


@lru_cache(maxsize=65536)
def normalize_phone(raw: str, region: str = "RU") -> str:
    """Return the E.164 form of ``raw`` or raise BadPhone with the reason."""
    text = (raw or "").strip()
    if not text:
        raise BadPhone("empty phone number")
    if region == "RU":
        fast = _russian_fast_path(text)
        if fast is not None:
            return fast
    digits = "".join(ch for ch in text if ch.isdigit())
    if region == "RU" and not text.startswith("+"):
        # Russian habits phonenumbers does not guess: 8XXXXXXXXXX (trunk prefix) and 7XXXXXXXXXX without '+'.
        if len(digits) == 11 and digits[0] in "78":
            text = "+7" + digits[1:]
        elif len(digits) == 10 and digits[0] == "9":
            text = "+7" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhone(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise BadPhone("wrong number of digits")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _russian_fast_path(text: str) -> str | None:
    """The everyday Russian shapes (8…, 7…, +7…, bare 9… with spaces, brackets, dashes): every Russian
    number has 10 national digits, so these need no parsing. Anything else goes to phonenumbers."""
    compact = text.translate(_SEPARATORS)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isascii() or not digits.isdigit():
        return None
    if len(digits) == 11 and (digits[0] == "7" or (digits[0] == "8" and not plus)):
        return "+7" + digits[1:]
    if len(digits) == 10 and not plus and digits[0] == "9":
        return "+7" + digits
    return None


def try_normalize_phone(raw: str | None, region: str = "RU") -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw, region)
    except BadPhone:
        return None


def normalize_email(raw: str) -> str:
    value = (raw or "").strip().lower()
    local, sep, domain = value.rpartition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError("not an email address")
    return value
