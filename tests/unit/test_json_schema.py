"""The published JSON Schema says what the validators say (rules/_json_schema.py): what the schema admits is
accepted, and what it refuses is refused, for the rules JSON Schema can state. Checked with the validator
schemathesis uses (jsonschema_rs, Draft 2020-12) against the models themselves."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import jsonschema_rs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from app.accounts.schemas import AdjustmentRequest
from app.core.settings import Settings
from app.main import create_app
from rules import Program, ProgramError, Receipt, parse_program
from rules._json_schema import DECIMAL_TEXT, STRIPPED, WHITE_SPACE
from rules._types import Multiplier, Percent, PositivePercent, Quantity

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "rules" / "examples" / "program.yaml").read_text())
CONTRACT = ROOT / "docs" / "contract.md"

DECIMALS: list[tuple[Any, str, Decimal, Decimal, int]] = [  # type, pattern, lowest, highest, places
    (Quantity, "quantity", Decimal("0.001"), Decimal(1_000_000), 3),
    (Percent, "percent", Decimal(0), Decimal(100), 2),
    (PositivePercent, "positive_percent", Decimal("0.01"), Decimal(100), 2),
    (Multiplier, "positive_percent", Decimal("0.01"), Decimal(100), 2),
]


def _accepts(kind: Any, value: Any) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("kind", "text", "low", "high", "places"), DECIMALS, ids=[d[1] for d in DECIMALS])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decimal_text_the_pattern_admits_is_accepted(kind: Any, text: str, low: Decimal, high: Decimal, places: int,
                                                      data: st.DataObject) -> None:
    value = data.draw(st.from_regex(DECIMAL_TEXT[text], fullmatch=True))
    assert _accepts(kind, value), value


@pytest.mark.parametrize(("kind", "text", "low", "high", "places"), DECIMALS, ids=[d[1] for d in DECIMALS])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decimals_are_accepted_as_the_schema_says(kind: Any, text: str, low: Decimal, high: Decimal, places: int,
                                                  data: st.DataObject) -> None:
    """Every decimal in range with the allowed places: its plain text matches the pattern, it is valid to the
    schema as text and as a JSON number, and the validator accepts both."""
    step = Decimal(1).scaleb(-places)
    value = data.draw(st.integers(int(low / step), int(high / step))) * step
    schema = jsonschema_rs.validator_for(TypeAdapter(kind).json_schema())
    for sent in (format(value, "f"), float(value)):
        assert schema.is_valid(sent) and _accepts(kind, sent), sent
    assert re.fullmatch(DECIMAL_TEXT[text], format(value.normalize(), "f"))


@pytest.mark.parametrize(("kind", "text"), [(d[0], d[1]) for d in DECIMALS], ids=[d[1] for d in DECIMALS])
@pytest.mark.parametrize("value", ["", ".", "-1", "1.2345", "1000000.001", "100.01", "abc", "1e2", " 2", "0x10",
                                   "NaN", "Infinity"])
def test_decimal_text_the_validator_refuses_the_pattern_refuses(kind: Any, text: str, value: str) -> None:
    if not _accepts(kind, value):
        assert not re.fullmatch(DECIMAL_TEXT[text], value), value


@pytest.mark.parametrize(("text", "refused"), [("quantity", ["0", "0.000", "000"]), ("percent", []),
                                               ("positive_percent", ["0", "0.00", ".0"])])
def test_zero(text: str, refused: list[str]) -> None:
    for value in refused:
        assert not re.fullmatch(DECIMAL_TEXT[text], value), value
    if not refused:
        assert re.fullmatch(DECIMAL_TEXT[text], "0") and re.fullmatch(DECIMAL_TEXT[text], "0.00")


def test_white_space_is_the_validators() -> None:
    """`WHITE_SPACE` is what pydantic's patterns mean by \\s, `STRIPPED` what `str.strip` removes."""
    pattern = TypeAdapter(Annotated[str, Field(pattern=r"^\s$")])
    for code in [*range(0x3100), 0xFEFF, 0x10FFFF]:
        char = chr(code)
        try:
            pattern.validate_python(char)
            space = True
        except ValidationError:
            space = False
        assert bool(re.fullmatch(f"[{WHITE_SPACE}]", char)) == space, hex(code)
        assert bool(re.fullmatch(f"[{STRIPPED}]", char)) == char.isspace(), hex(code)


def _program_schema() -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(Program.model_json_schema())


def _with_campaign(campaign: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    document["campaigns"] = [campaign]
    return document


def _valid(document: dict[str, Any]) -> bool:
    try:
        parse_program(document)
    except ProgramError:
        return False
    return True


BASE = {"id": "c1", "name": "c", "priority": 1}
CAMPAIGNS = [
    # a threshold: exactly one of percent or amount
    {**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0, "percent": 5}]},
    {**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0, "amount": 500}]},
    {**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0, "percent": 5, "amount": 500}]},
    {**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0}]},
    {**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0, "percent": None, "amount": 500}]},
    {**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0, "percent": 0}]},
    # a coupon: exactly one effect, limits only with a shared code
    {**BASE, "type": "coupon", "percent": 10},
    {**BASE, "type": "coupon", "percent": 10, "points": 100},
    {**BASE, "type": "coupon"},
    {**BASE, "type": "coupon", "accrual_multiplier": "1.5", "code": "WIN", "max_uses": 10},
    {**BASE, "type": "coupon", "amount": 500, "max_uses": 10},
    {**BASE, "type": "coupon", "amount": 500, "max_uses_per_account": 1, "code": None},
    # accrual: percent with mode, or multiplier alone
    {**BASE, "type": "accrual", "percent": 5, "mode": "add"},
    {**BASE, "type": "accrual", "multiplier": 2},
    {**BASE, "type": "accrual", "percent": 5},
    {**BASE, "type": "accrual", "multiplier": 2, "mode": "add"},
    {**BASE, "type": "accrual", "multiplier": 2, "percent": 5, "mode": "add"},
    {**BASE, "type": "accrual"},
    # a bonus: min_amount only for receipts
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 100, "min_amount": 1000},
    {**BASE, "type": "bonus", "trigger": "registration", "points": 100, "min_amount": 0},
    {**BASE, "type": "bonus", "trigger": "registration", "points": 100, "min_amount": 1000},
    # a birthday bonus: days only for birthdays; no receipt facts, no items, no min_amount
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "days_before": 3, "days_after": 90},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "when": {"tiers": ["base"],
                                                                           "segments": ["loyal"]}},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "days_before": None, "when": None},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "when": {"channels": ["pos"]}},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "when": {"stores": None, "hours": "08:00-09:00"}},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "when": {"weekdays": [1]}},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "items": {"skus": ["A"]}},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "min_amount": 5},
    {**BASE, "type": "bonus", "trigger": "birthday", "points": 100, "days_after": 91},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 100, "days_after": 1},
    {**BASE, "type": "bonus", "trigger": "registration", "points": 100, "days_before": 0},
    {**BASE, "type": "bonus", "trigger": "registration", "points": 100, "days_before": None},
    # hours
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": "08:00-24:00"}},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": "08:00-24:01"}},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": "24:00-08:00"}},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": ""}},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": "8:00-22:00"}},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": "08:00-08:00"}},
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 1, "when": {"hours": "00:00-24:00"}},
    # control_percent: a whole number 0..50, and none above 0 on a coupon or a registration bonus
    *({**BASE, "type": "receipt_discount", "thresholds": [{"min_amount": 0, "percent": 5}], "control_percent": v}
      for v in (0, 1, 50, 51, -1, "10", 10.5, None, True)),
    *({**BASE, "type": "coupon", "percent": 10, "control_percent": v} for v in (0, 10, None)),
    *({**BASE, "type": "bonus", "trigger": "registration", "points": 100, "control_percent": v} for v in (0, 10, None)),
    {**BASE, "type": "bonus", "trigger": "receipt", "points": 100, "control_percent": 10},
]


@pytest.mark.parametrize("campaign", CAMPAIGNS, ids=range(len(CAMPAIGNS)))
def test_the_program_schema_and_the_validator_agree(campaign: dict[str, Any]) -> None:
    document = _with_campaign(campaign)
    assert _program_schema().is_valid(document) == _valid(document)


def test_the_first_tier_starts_at_0() -> None:
    document = copy.deepcopy(EXAMPLE)
    document["tiers"]["levels"][0]["min_purchases"] = 1
    assert not _program_schema().is_valid(document) and not _valid(document)
    assert _program_schema().is_valid(EXAMPLE) and _valid(EXAMPLE)


def test_pre_churn_days_is_at_least_1() -> None:
    document = {**copy.deepcopy(EXAMPLE), "segments": {"pre_churn_days": 0, "churn_days": 120}}
    assert not _program_schema().is_valid(document) and not _valid(document)


def test_an_adjustment_of_0_points_is_refused_by_the_schema() -> None:
    schema = jsonschema_rs.validator_for(AdjustmentRequest.model_json_schema())
    assert not schema.is_valid({"points": 0, "reason": "r"})
    assert schema.is_valid({"points": -5, "reason": "r"}) and schema.is_valid({"points": 5, "reason": "r"})
    assert not schema.is_valid({"points": 5, "reason": " \u3000"})


def test_a_receipt_names_a_coupon_or_a_certificate_once_in_the_schema() -> None:
    schema = jsonschema_rs.validator_for(Receipt.model_json_schema())
    receipt = {"receipt_id": "r1", "store_id": "s1", "issued_at": "2026-11-24T10:15:00+03:00",
               "lines": [{"line_id": "1", "sku": "A", "quantity": "1", "price": 100, "amount": 100}]}
    assert schema.is_valid(receipt)
    for extra in ({"coupons": ["A", "A"]}, {"coupons": [" "]},
                  {"gift_certificates": [{"code": "G"}, {"code": "G"}]}, {"gift_certificates": [{"code": "\x1c"}]}):
        assert not schema.is_valid({**receipt, **extra}), extra
        with pytest.raises(ValidationError):
            Receipt.model_validate({**receipt, **extra})


def test_the_contracts_client_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/contract.md's example of checking a body against /openapi.json, against this app's schema."""
    from tests.unit.test_readme import blocks, section

    served = create_app(Settings()).openapi()  # building the app opens no database (its lifespan does)
    monkeypatch.setattr(httpx, "get", lambda url, **_: SimpleNamespace(json=lambda: served))
    (example,) = blocks(section(CONTRACT, "The OpenAPI schema"), "python")
    exec(compile(example, "contract.md", "exec"), {})  # its asserts are the test


def test_a_campaign_body_may_leave_its_id_out() -> None:
    """PUT /v1/campaigns/{id} takes the id from the path: the body's schema does not require it."""
    served = create_app(Settings()).openapi()
    body = served["paths"]["/v1/campaigns/{campaign_id}"]["put"]["requestBody"]["content"]["application/json"]
    schema = jsonschema_rs.validator_for({**body["schema"], "components": served["components"]})
    campaign = {"name": "c", "type": "accrual", "priority": 1, "multiplier": 2}
    assert schema.is_valid(campaign) and schema.is_valid({**campaign, "id": "c1"})
    assert not schema.is_valid({**campaign, "id": None}) and not schema.is_valid({**campaign, "type": "other"})
