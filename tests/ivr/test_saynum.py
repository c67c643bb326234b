"""Say-number: the Chinese fragment sequences for numbers, amounts, digits, dates and times."""

from __future__ import annotations

import pytest

from appliance.ivr.saynum import SayError, as_text, say, say_amount, say_integer, say_number


@pytest.mark.parametrize(("value", "text"), [
    (0, "零"), (1, "一"), (10, "十"), (11, "十一"), (15, "十五"), (20, "二十"), (99, "九十九"),
    (100, "一百"), (101, "一百零一"), (110, "一百一十"), (115, "一百一十五"), (999, "九百九十九"),
    (1000, "一千"), (1001, "一千零一"), (1010, "一千零一十"), (1100, "一千一百"), (2019, "二千零一十九"),
    (10000, "一万"), (10001, "一万零一"), (10010, "一万零一十"), (10100, "一万零一百"), (11000, "一万一千"),
    (20020, "二万零二十"), (100000, "十万"), (100010, "十万零一十"), (150000, "十五万"),
    (1000001, "一百万零一"), (12345678, "一千二百三十四万五千六百七十八"),
    (100000000, "一亿"), (100000001, "一亿零一"), (110000000, "一亿一千万"), (100100000, "一亿零一十万"),
    (123456789, "一亿二千三百四十五万六千七百八十九"), (-5, "负五"), (-10, "负十"),
])
def test_integers(value: int, text: str) -> None:
    assert as_text(say_integer(value)) == text
    assert as_text(say_number(value)) == text


@pytest.mark.parametrize(("value", "text"), [
    ("3.14", "三点一四"), ("3.05", "三点零五"), ("0.5", "零点五"), ("10.50", "十点五"), ("-2.5", "负二点五"),
    ("1,000", "一千"),
])
def test_decimals(value: str, text: str) -> None:
    assert as_text(say_number(value)) == text


@pytest.mark.parametrize(("value", "text"), [
    ("123.45", "一百二十三元四角五分"), ("12.05", "十二元零五分"), ("12.50", "十二元五角"),
    ("100", "一百元整"), ("100.00", "一百元整"), ("0.5", "五角"), ("0.05", "五分"), ("0", "零元"),
    ("1000.10", "一千元一角"), ("10.01", "十元零一分"), ("-3.2", "负三元二角"), ("0.999", "一元整"),
    ("100000000", "一亿元整"), ("2.345", "二元三角五分"),
])
def test_amounts(value: str, text: str) -> None:
    assert as_text(say_amount(value)) == text


def test_amount_fragments_are_prompt_names() -> None:
    assert say_amount("123.45") == ["digit_1", "hundred", "digit_2", "ten", "digit_3", "yuan", "digit_4",
                                    "jiao", "digit_5", "fen"]


def test_digits_dates_times() -> None:
    assert as_text(say("digits", "95566")) == "九五五六六"
    assert as_text(say("digits", "0571-8888")) == "零五七一八八八八"
    assert as_text(say("date", "2026-12-02")) == "二零二六年十二月二日"
    assert as_text(say("date", "2027-10-01T08:00")) == "二零二七年十月一日"
    assert as_text(say("time", "08:00")) == "八点"
    assert as_text(say("time", "08:05")) == "八点零五分"
    assert as_text(say("time", "14:30")) == "十四点三十分"
    assert as_text(say("time", "0:10")) == "零点十分"


@pytest.mark.parametrize(("kind", "value"), [
    ("number", "abc"), ("amount", "NaN"), ("amount", ""), ("date", "2026-13-01"), ("time", "25:00"),
    ("colour", "1"), ("number", 10**17), ("number", True),
])
def test_unsayable_values_are_refused(kind: str, value: object) -> None:
    with pytest.raises(SayError):
        say(kind, value)
