"""Say-number: Chinese readings of digits, numbers, amounts, dates and times as prompt fragments.

Every function returns the list of prompt names (``digit_0`` .. ``digit_9``, ``ten``, ``hundred``,
``thousand``, ``ten_thousand``, ``hundred_million``, ``point``, ``yuan``, ``jiao``, ``fen``,
``zheng``, ``negative``, ``year``, ``month``, ``day``, ``oclock``, ``minute``) that the
interpreter plays one after another:

- ``say_number(123)`` -> 一百二十三; ``10`` -> 十, ``15`` -> 十五 (no leading 一 for 10..19),
  ``101`` -> 一百零一, ``1010`` -> 一千零一十, ``100010`` -> 十万零一十, ``100000000`` -> 一亿;
  a decimal ``3.05`` -> 三点零五; a negative number starts with 负.
- ``say_amount("123.45")`` -> 一百二十三元四角五分; ``"12.05"`` -> 十二元零五分;
  ``"100"`` -> 一百元整; ``"0.5"`` -> 五角; ``"0"`` -> 零元. Rounded half-up to the fen.
- ``say_digits("95566")`` -> 九五五六六 (one fragment per digit; other characters are skipped).
- ``say_date("2026-12-02")`` -> 二零二六年十二月二日; ``say_time("08:05")`` -> 八点零五分,
  ``"08:00"`` -> 八点.
"""

from __future__ import annotations

import datetime as _dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DIGITS = tuple(f"digit_{d}" for d in range(10))
FRAGMENTS: tuple[str, ...] = (
    *DIGITS, "ten", "hundred", "thousand", "ten_thousand", "hundred_million", "point", "yuan", "jiao",
    "fen", "zheng", "negative", "year", "month", "day", "oclock", "minute",
)
KINDS = ("digits", "number", "amount", "date", "time")
MAX_NUMBER = 10**16 - 1          # up to 九千九百九十九万亿: more is no number a caller needs read out

_UNITS = ("", "ten", "hundred", "thousand")


class SayError(ValueError):
    """The value cannot be said as the kind asked."""


def _group(n: int, leading: bool) -> list[str]:
    """0 < n < 10000. ``leading``: first group of the whole number (10..19 read 十.. not 一十..)."""
    out: list[str] = []
    digits = [n // 1000 % 10, n // 100 % 10, n // 10 % 10, n % 10]
    started = False
    pending_zero = False
    for pos, d in enumerate(digits):
        unit = _UNITS[3 - pos]
        if d == 0:
            if started:
                pending_zero = True
            continue
        if pending_zero:
            out.append(DIGITS[0])
            pending_zero = False
        if not (d == 1 and unit == "ten" and not started and leading):
            out.append(DIGITS[d])
        if unit:
            out.append(unit)
        started = True
    return out


def _integer(n: int, leading: bool = True) -> list[str]:
    if n >= 10**8:
        hi, lo = divmod(n, 10**8)
        out = [*_integer(hi, leading), "hundred_million"]
        if lo:
            if lo < 10**7:
                out.append(DIGITS[0])
            out += _integer(lo, False)
        return out
    if n >= 10**4:
        hi, lo = divmod(n, 10**4)
        out = [*_group(hi, leading), "ten_thousand"]
        if lo:
            if lo < 1000:
                out.append(DIGITS[0])
            out += _group(lo, False)
        return out
    return _group(n, leading)


def say_integer(n: int) -> list[str]:
    """A whole number (negative: 负 first)."""
    if abs(n) > MAX_NUMBER:
        raise SayError(f"{n} is too large to say")
    if n == 0:
        return [DIGITS[0]]
    prefix = ["negative"] if n < 0 else []
    return prefix + _integer(abs(n))


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise SayError(f"{value!r} is not a number")
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise SayError(f"{value!r} is not a number") from None
    if not d.is_finite():
        raise SayError(f"{value!r} is not a number")
    return d


def say_number(value: object) -> list[str]:
    """An integer or decimal number: 一百零一, 三点一四, 负五."""
    d = _decimal(value)
    sign, _digits, _exp = d.as_tuple()
    whole = int(abs(d))
    text = format(abs(d), "f")
    frac = text.partition(".")[2].rstrip("0")
    out = ["negative"] if sign and d != 0 else []
    out += say_integer(whole)
    if frac:
        out.append("point")
        out += [DIGITS[int(c)] for c in frac]
    return out


def say_amount(value: object) -> list[str]:
    """Money in yuan: 一百二十三元四角五分, 十二元零五分, 一百元整, 五角, 零元."""
    d = _decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    out = ["negative"] if d < 0 else []
    cents = int(abs(d) * 100)
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    if yuan == 0 and rest == 0:
        return [*out, DIGITS[0], "yuan"]
    if yuan:
        out += [*say_integer(yuan), "yuan"]
        if rest == 0:
            return [*out, "zheng"]
    if jiao:
        out += [DIGITS[jiao], "jiao"]
    if fen:
        if yuan and not jiao:
            out.append(DIGITS[0])
        out += [DIGITS[fen], "fen"]
    return out


def say_digits(value: object) -> list[str]:
    """Digit by digit (phone numbers, account and work-order numbers)."""
    return [DIGITS[int(c)] for c in str(value) if c.isdigit() and c.isascii()]


def say_date(value: object) -> list[str]:
    """A date (``date``/``datetime`` or ``YYYY-MM-DD``): year digit by digit, month and day as numbers."""
    if isinstance(value, _dt.datetime):
        day = value.date()
    elif isinstance(value, _dt.date):
        day = value
    else:
        try:
            day = _dt.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise SayError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return [*say_digits(f"{day.year:04d}"), "year", *say_integer(day.month), "month",
            *say_integer(day.day), "day"]


def say_time(value: object) -> list[str]:
    """A time of day (``time``/``datetime`` or ``HH:MM``): 八点, 八点零五分, 十四点三十分."""
    if isinstance(value, (_dt.datetime, _dt.time)):
        hour, minute = value.hour, value.minute
    else:
        head, _, tail = str(value).strip().partition(":")
        try:
            hour, minute = int(head), int(tail[:2] or 0)
        except ValueError:
            raise SayError(f"{value!r} is not a time (HH:MM)") from None
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise SayError(f"{value!r} is not a time (HH:MM)")
    out = [*say_integer(hour), "oclock"]
    if minute:
        if minute < 10:
            out.append(DIGITS[0])
        out += [*say_integer(minute), "minute"]
    return out


def say(kind: str, value: object) -> list[str]:
    """Fragments for ``value`` said as ``kind`` (one of KINDS); SayError if it cannot be."""
    if kind == "digits":
        return say_digits(value)
    if kind == "number":
        return say_number(value)
    if kind == "amount":
        return say_amount(value)
    if kind == "date":
        return say_date(value)
    if kind == "time":
        return say_time(value)
    raise SayError(f"unknown say kind {kind!r} (one of {', '.join(KINDS)})")


_TEXT = {
    **{f"digit_{d}": c for d, c in enumerate("零一二三四五六七八九")},
    "ten": "十", "hundred": "百", "thousand": "千", "ten_thousand": "万", "hundred_million": "亿",
    "point": "点", "yuan": "元", "jiao": "角", "fen": "分", "zheng": "整", "negative": "负", "year": "年",
    "month": "月", "day": "日", "oclock": "点", "minute": "分",
}


def as_text(fragments: list[str]) -> str:
    """The Chinese characters of a fragment list (logs, tests): ['digit_1', 'hundred'] -> '一百'."""
    return "".join(_TEXT.get(f, f"<{f}>") for f in fragments)
