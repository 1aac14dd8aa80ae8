"""Fake but well-formed Chinese identifiers: 统一社会信用代码 (GB 32100-2015) and 身份证号 (GB 11643)."""

from __future__ import annotations

import random
from datetime import date, timedelta

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def uscc_check_char(first17: str) -> str:
    """Check character of a 统一社会信用代码 given its first 17 characters."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _org_code(rng: random.Random) -> str:
    # 组织机构代码 (GB 11714): 8 body digits + check character.
    body = "".join(str(rng.randrange(10)) for _ in range(8))
    check = 11 - sum(int(c) * w for c, w in zip(body, _ORG_WEIGHTS)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(rng: random.Random, area_code: str) -> str:
    """18-char code: 9 (工商) 1 (企业) + area + organisation code + check."""
    first17 = "91" + area_code + _org_code(rng)
    return first17 + uscc_check_char(first17)


def id_check_char(first17: str) -> str:
    """Check character of an 18-digit 身份证号."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def make_id_number(rng: random.Random, area_code: str) -> str:
    """18-digit 身份证号 for an adult born 1960–2000."""
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    first17 = area_code + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)
