"""Small builders for unit tests of the pure rule engine (no fixtures, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rules import AccountState, CompiledProgram, Outcome, Receipt, compile_program, evaluate, parse_program

NOW = datetime.fromisoformat("2026-11-24T12:00:00+03:00")
ISSUED = "2026-11-24T10:15:00+03:00"  # a Tuesday

TIERS: dict[str, Any] = {
    "window_days": 365,
    "levels": [
        {"id": "base", "min_purchases": 0, "accrual_percent": 3},
        {"id": "silver", "min_purchases": 1_500_000, "accrual_percent": 5},
        {"id": "gold", "min_purchases": 5_000_000, "accrual_percent": 7},
    ],
}


def program_doc(campaigns: list[dict[str, Any]] | None = None, **points: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "accrual_base": "paid",
        "rounding": "minor",
        "pending_days": 14,
        "expire_days": 365,
        "max_redeem_percent": 50,
    }
    settings.update(points)
    return {"points": settings, "tiers": TIERS, "campaigns": campaigns or []}


def program(campaigns: list[dict[str, Any]] | None = None, **points: Any) -> CompiledProgram:
    return compile_program(parse_program(program_doc(campaigns, **points)), version=1)


def line(line_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"line_id": line_id, "sku": f"SKU-{line_id}", "quantity": "1", "price": amount}
    data["amount"] = amount
    data.update(fields)
    return data


def receipt(*lines: dict[str, Any], **fields: Any) -> Receipt:
    data: dict[str, Any] = {"receipt_id": "r-1", "store_id": "s17", "issued_at": ISSUED, "lines": list(lines)}
    data.update(fields)
    return Receipt.model_validate(data)


def account(status: str = "ok", purchases: int = 0, available: int = 10**9) -> AccountState:
    return AccountState(status=status, tier_purchases=purchases, available_points=available)  # type: ignore[arg-type]


def run(rcpt: Receipt, prog: CompiledProgram, acct: AccountState | None = None) -> Outcome:
    return evaluate(rcpt, acct if acct is not None else account(), prog, NOW)


def column(outcome: Outcome, name: str) -> list[int]:
    return [getattr(result, name) for result in outcome.lines]


def campaign(kind: str, campaign_id: str, priority: int = 10, **fields: Any) -> dict[str, Any]:
    """A campaign entry of the program document; the id doubles as its name."""
    return {"id": campaign_id, "name": campaign_id, "type": kind, "priority": priority, **fields}


def discount_campaign(
    campaign_id: str = "disc",
    percent: Any = 10,
    min_amount: int = 0,
    priority: int = 10,
    **fields: Any,
) -> dict[str, Any]:
    thresholds = [{"min_amount": min_amount, "percent": percent}]
    return campaign("receipt_discount", campaign_id, priority, thresholds=thresholds, **fields)
