"""How routing compares words and numbers written by people: case, ё/е, spacing, phone and site forms."""

from __future__ import annotations

import re
from functools import lru_cache

_SPACES = re.compile(r"\s+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


@lru_cache(maxsize=65536)
def norm_text(value: str) -> str:
    """Case, ё/е and spacing do not matter: 'Савёловская ' == 'савеловская'."""
    return _SPACES.sub(" ", value.strip().casefold().replace("ё", "е"))


@lru_cache(maxsize=65536)
def norm_did(value: str) -> str:
    """A dialed number by its digits, Russian trunk prefix 8 and missing country code made 7: '8 (495) 123-45-67'
    == '+74951234567'."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 11 and digits[0] == "8":
        return "7" + digits[1:]
    if len(digits) == 10:
        return "7" + digits
    return digits


@lru_cache(maxsize=65536)
def norm_site(value: str) -> str:
    """A site by its host: 'https://www.Example.ru/form?x=1' == 'example.ru'."""
    text = _SCHEME.sub("", value.strip().casefold())
    text = text.split("/", 1)[0].split("?", 1)[0]
    return text.removeprefix("www.")
