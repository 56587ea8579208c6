"""The program document: the example loads, bad documents fail with precise paths, dumps round-trip."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from rules import Program, ProgramError, dump_program, load_program, parse_program, read_document
from rules._program import Accrual, ReceiptDiscount

EXAMPLE = resources.files("rules").joinpath("examples/program.yaml").read_text(encoding="utf-8")

BASE = """\
tiers:
  levels:
    - {id: base, min_purchases: 0, accrual_percent: 3}
    - {id: silver, min_purchases: 1500000, accrual_percent: 5}
campaigns:
  - id: winter
    name: Winter
    type: receipt_discount
    priority: 10
    when: {tiers: [silver], hours: "08:00-22:00"}
    thresholds:
      - {min_amount: 500000, percent: 5}
      - {min_amount: 1000000, percent: 10}
  - id: coffee
    name: Coffee
    type: accrual
    priority: 20
    percent: 10
    mode: replace
"""


def errors_of(text: str, fmt: str = "yaml") -> list[dict[str, str]]:
    with pytest.raises(ProgramError) as caught:
        load_program(text, fmt)
    assert caught.value.errors, "a ProgramError always lists its problems"
    for error in caught.value.errors:
        assert set(error) == {"path", "message"}
    return caught.value.errors


def edited(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def test_base_document_is_valid() -> None:
    program = load_program(BASE, "yaml")
    assert [c.id for c in program.campaigns] == ["winter", "coffee"]


def test_example_program_loads() -> None:
    program = load_program(EXAMPLE, "yaml")
    assert program.currency == "RUB"
    assert program.points.accrual_base == "paid"
    assert program.points.rounding == "whole"
    assert program.points.max_redeem_percent == Decimal(50)
    assert [level.id for level in program.tiers.levels] == ["base", "silver", "gold"]
    assert [level.accrual_percent for level in program.tiers.levels] == [3, 5, 7]
    assert [c.id for c in program.campaigns][:4] == ["welcome", "winter-check", "summer-2for1", "socks-3"]
    # the example runs every mechanic
    assert {c.type for c in program.campaigns} == {
        "receipt_discount", "quantity_discount", "n_for_m", "coupon", "accrual", "redemption", "bonus"}
    winter = program.campaigns[1]
    assert isinstance(winter, ReceiptDiscount)
    thresholds = [(t.min_amount, t.percent) for t in winter.thresholds]
    assert thresholds == [(500_000, Decimal(5)), (1_000_000, Decimal(10))]
    assert winter.active is not None and winter.active.from_ is not None
    assert winter.active.from_.isoformat() == "2026-11-01T00:00:00+03:00"


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        # unknown fields, at every level
        ("priority: 10\n", "priority: 10\n    colour: red\n", "campaigns[0].colour", "Extra inputs"),
        ("tiers:\n", "typo: 1\ntiers:\n", "typo", "Extra inputs"),
        (
            "{min_amount: 500000, percent: 5}",
            "{min_amount: 500000, percent: 5, kind: x}",
            "campaigns[0].thresholds[0].kind",
            "Extra inputs",
        ),
        # money must be an integer of minor units, never a number with a fraction
        ("min_amount: 500000,", "min_amount: 5000.5,", "campaigns[0].thresholds[0].min_amount", "integer"),
        ("min_amount: 500000,", "min_amount: 5000.0,", "campaigns[0].thresholds[0].min_amount", "integer"),
        ("min_amount: 500000,", 'min_amount: "500000",', "campaigns[0].thresholds[0].min_amount", "integer"),
        ("min_purchases: 1500000", "min_purchases: 1500000.0", "tiers.levels[1].min_purchases", "integer"),
        # percents have at most two fraction digits
        ("percent: 10}", "percent: 10.125}", "campaigns[0].thresholds[1].percent", "2 decimal places"),
        ("percent: 10}", 'percent: "10.125"}', "campaigns[0].thresholds[1].percent", "2 decimal places"),
        ("percent: 10}", "percent: 101}", "campaigns[0].thresholds[1].percent", "less than or equal to 100"),
        ("percent: 10}", "percent: -1}", "campaigns[0].thresholds[1].percent", "greater than"),
        ("percent: 10}", "percent: .nan}", "campaigns[0].thresholds[1].percent", "finite"),
        ("percent: 10}", "percent: .inf}", "campaigns[0].thresholds[1].percent", ""),
        ("percent: 10}", "percent: true}", "campaigns[0].thresholds[1].percent", "number"),
        (
            "accrual_percent: 5}",
            "accrual_percent: 5.001}",
            "tiers.levels[1].accrual_percent",
            "2 decimal places",
        ),
        ("percent: 10\n", "percent: 0.125\n", "campaigns[1].percent", "2 decimal places"),
        # thresholds sorted by growing min_amount, without repeats
        (
            "min_amount: 1000000, percent: 10",
            "min_amount: 400000, percent: 10",
            "campaigns[0].thresholds",
            "sorted",
        ),
        (
            "min_amount: 1000000, percent: 10",
            "min_amount: 500000, percent: 10",
            "campaigns[0].thresholds",
            "sorted",
        ),
        # a threshold needs exactly one of percent or amount
        (
            "{min_amount: 500000, percent: 5}",
            "{min_amount: 500000}",
            "campaigns[0].thresholds[0]",
            "exactly one",
        ),
        (
            "{min_amount: 500000, percent: 5}",
            "{min_amount: 500000, percent: 5, amount: 100}",
            "campaigns[0].thresholds[0]",
            "exactly one",
        ),
        # tiers: first at 0, growing, unique
        ("min_purchases: 1500000", "min_purchases: 0", "tiers.levels", "must grow"),
        ("{id: base, min_purchases: 0,", "{id: base, min_purchases: 1,", "tiers.levels", "min_purchases 0"),
        # hours
        ('hours: "08:00-22:00"', 'hours: "25:00-26:00"', "campaigns[0].when.hours", "hours"),
        ('hours: "08:00-22:00"', 'hours: "8:00-22:00"', "campaigns[0].when.hours", "hours"),
        ('hours: "08:00-22:00"', 'hours: "08:00-24:30"', "campaigns[0].when.hours", "hours"),
        ('hours: "08:00-22:00"', 'hours: "08:00-08:00"', "campaigns[0].when.hours", "empty"),
        ('hours: "08:00-22:00"', 'hours: "08:00"', "campaigns[0].when.hours", "hours"),
        # weekdays are ISO 1..7
        (
            "when: {tiers: [silver],",
            "when: {weekdays: [0], tiers: [silver],",
            "campaigns[0].when.weekdays[0]",
            "",
        ),
        (
            "when: {tiers: [silver],",
            "when: {weekdays: [8], tiers: [silver],",
            "campaigns[0].when.weekdays[0]",
            "",
        ),
        # ids, types, modes
        ("id: winter", "id: Winter", "campaigns[0].id", "pattern"),
        ("type: receipt_discount", "type: lottery", "campaigns[0]", "lottery"),
        ("mode: replace", "mode: sometimes", "campaigns[1].mode", ""),
        ("    mode: replace\n", "", "campaigns[1]", "mode"),
        ("priority: 10", "priority: 1.5", "campaigns[0].priority", "integer"),
    ],
)
def test_bad_document_reports_precise_path(old: str, new: str, path: str, message: str) -> None:
    errors = errors_of(edited(old, new))
    assert path in [e["path"] for e in errors], errors
    matching = [e for e in errors if e["path"] == path]
    assert any(message.lower() in e["message"].lower() for e in matching), matching


def test_active_period_must_be_aware_and_ordered() -> None:
    text = edited("priority: 10\n", 'priority: 10\n    active: {from: "2026-11-01T00:00:00"}\n')
    assert [e["path"] for e in errors_of(text)] == ["campaigns[0].active.from"]
    text = edited(
        "priority: 10\n",
        'priority: 10\n    active: {from: "2027-01-01T00:00:00+03:00", to: "2026-11-01T00:00:00+03:00"}\n',
    )
    errors = errors_of(text)
    assert [e["path"] for e in errors] == ["campaigns[0].active"]
    assert "after" in errors[0]["message"]


def test_duplicate_campaign_ids_are_refused() -> None:
    text = BASE.replace("id: coffee", "id: winter")
    errors = errors_of(text)
    assert len(errors) == 1
    assert "twice" in errors[0]["message"] and "winter" in errors[0]["message"]
    assert re.fullmatch(r"campaigns\[\d+\]\.id", errors[0]["path"])


GIFT = "  - {{id: gift, name: Gift, type: coupon, priority: 30, code: \"{code}\", percent: 5}}\n"


@pytest.mark.parametrize("code", [" ", "\\t", " \\u00a0 "])  # YAML escapes: a tab, a no-break space
def test_a_shared_coupon_code_of_only_white_space_is_refused(code: str) -> None:
    """It used to pass its length check and be stored as a code of nothing (schemathesis found it)."""
    errors = errors_of(BASE + GIFT.format(code=code))
    assert [error["path"] for error in errors] == ["campaigns[2].code"]
    assert "blank" in errors[0]["message"]
    program = load_program(BASE + GIFT.format(code=" w10 "), "yaml")
    assert program.campaigns[2].code == "W10"  # type: ignore[union-attr]


def test_unknown_tier_in_when_is_refused() -> None:
    errors = errors_of(edited("tiers: [silver]", "tiers: [silver, platinum]"))
    assert len(errors) == 1
    assert "platinum" in errors[0]["message"]
    assert errors[0]["path"] == "campaigns[0].when.tiers"


def test_several_problems_are_all_listed() -> None:
    text = edited("percent: 10}", "percent: 10.125}").replace("priority: 20", "priority: twenty")
    paths = {e["path"] for e in errors_of(text)}
    assert {"campaigns[0].thresholds[1].percent", "campaigns[1].priority"} <= paths


@pytest.mark.parametrize(
    "text",
    [
        "tiers: [unclosed\n",
        "tiers:\n  levels:\n - bad indent\n   - x\n",
        "a: b: c\n",
        "key: 'unterminated\n",
        "points: {max_redeem_percent: 1:30.5}\n",  # a YAML 1.1 sexagesimal float, not a decimal
    ],
)
def test_yaml_syntax_error_is_a_program_error(text: str) -> None:
    errors = errors_of(text)
    assert errors[0]["path"] == "(document)"
    assert "not valid YAML" in errors[0]["message"]


@pytest.mark.parametrize("text", ['{"tiers": ', "{'single': 'quotes'}", "[1, 2,]", b"\xff\xfe{}"])
def test_json_syntax_error_is_a_program_error(text: str | bytes) -> None:
    errors = errors_of(text, "json")  # type: ignore[arg-type]
    assert errors[0]["path"] == "(document)"
    assert "not valid JSON" in errors[0]["message"]


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n", "42\n", "null\n"])
def test_a_document_that_is_not_a_mapping_is_refused(text: str) -> None:
    assert errors_of(text) == [{"path": "(document)", "message": "the program must be a mapping"}]


def test_json_float_money_is_refused() -> None:
    document = read_document(json.dumps(read_document(BASE, "yaml"), default=str), "json")
    document["campaigns"][0]["thresholds"][0]["min_amount"] = Decimal("5000.0")
    with pytest.raises(ProgramError) as caught:
        parse_program(document)
    assert [e["path"] for e in caught.value.errors] == ["campaigns[0].thresholds[0].min_amount"]


def test_json_numbers_are_read_as_decimals() -> None:
    text = '{"tiers": {"levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 7.5}]}}'
    document = read_document(text, "json")
    assert document["tiers"]["levels"][0]["accrual_percent"] == Decimal("7.5")
    assert isinstance(document["tiers"]["levels"][0]["accrual_percent"], Decimal)
    yaml_document = read_document("x: 7.5\ny: 0.1\n", "yaml")
    assert yaml_document == {"x": Decimal("7.5"), "y": Decimal("0.1")}


@pytest.mark.parametrize("written", ["7.5", '"7.5"', "7.50", '"7.50"'])
def test_percent_as_number_or_string_is_the_same(written: str) -> None:
    program = load_program(edited("accrual_percent: 5}", f"accrual_percent: {written}}}"), "yaml")
    reference = load_program(edited("accrual_percent: 5}", "accrual_percent: 7.5}"), "yaml")
    assert program.tiers.levels[1].accrual_percent == Decimal("7.5")
    assert program == reference
    assert dump_program(program, "yaml") == dump_program(reference, "yaml")
    assert dump_program(program, "json") == dump_program(reference, "json")
    # dumped back as the exact decimal: a string, never a float that could drift
    level = json.loads(dump_program(program, "json"))["tiers"]["levels"][1]
    assert level["accrual_percent"] == "7.5"


def test_python_float_percent_is_read_by_its_shortest_repr() -> None:
    document: dict[str, Any] = read_document(BASE, "yaml")
    document["tiers"]["levels"][1]["accrual_percent"] = 7.5
    document["campaigns"][1]["percent"] = 0.25
    program = parse_program(document)
    assert program.tiers.levels[1].accrual_percent == Decimal("7.5")
    coffee = program.campaigns[1]
    assert isinstance(coffee, Accrual)
    assert coffee.percent == Decimal("0.25")


def test_whole_percents_are_dumped_as_integers() -> None:
    dumped = json.loads(dump_program(load_program(BASE, "yaml"), "json"))
    assert dumped["tiers"]["levels"][1]["accrual_percent"] == 5
    assert dumped["campaigns"][0]["thresholds"][1] == {"min_amount": 1_000_000, "percent": 10}


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("source", [EXAMPLE, BASE, edited("percent: 10}", 'percent: "12.75"}')])
def test_dump_then_load_round_trips(source: str, fmt: str) -> None:
    program = load_program(source, "yaml")
    text = dump_program(program, fmt)
    again = load_program(text, fmt)
    assert again == program
    assert dump_program(again, fmt) == text


def test_document_is_json_ready_and_parses_back() -> None:
    program = load_program(EXAMPLE, "yaml")
    document = program.document()
    json.dumps(document)  # no Decimal, datetime or other non-JSON values
    assert parse_program(document) == program
    winter = document["campaigns"][1]
    assert winter["active"] == {"from": "2026-11-01T00:00:00+03:00", "to": "2027-01-01T00:00:00+03:00"}


def test_empty_program_gets_defaults() -> None:
    program = load_program("tiers: {levels: [{id: base, min_purchases: 0, accrual_percent: 1}]}", "yaml")
    assert isinstance(program, Program)
    assert program.points.accrual_base == "paid"
    assert program.points.rounding == "whole"
    assert program.points.max_redeem_percent == 50
    assert program.max_receipt_age_days == 30
    assert program.campaigns == []
