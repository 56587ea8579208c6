"""Small program documents for tests, so the arithmetic in each test is easy to follow."""

from __future__ import annotations

from typing import Any

import yaml


def program(
    *,
    accrual_base: str = "paid",
    rounding: str = "minor",
    pending_days: int = 0,
    expire_days: int = 365,
    max_redeem_percent: int | str = 50,
    auto_enroll: bool = True,
    window_days: int = 365,
    levels: list[dict[str, Any]] | None = None,
    campaigns: list[dict[str, Any]] | None = None,
    max_receipt_age_days: int = 30,
) -> str:
    document = {
        "currency": "RUB",
        "max_receipt_age_days": max_receipt_age_days,
        "points": {
            "accrual_base": accrual_base,
            "rounding": rounding,
            "pending_days": pending_days,
            "expire_days": expire_days,
            "max_redeem_percent": max_redeem_percent,
            "auto_enroll": auto_enroll,
        },
        "tiers": {
            "window_days": window_days,
            "levels": levels
            or [
                {"id": "base", "min_purchases": 0, "accrual_percent": 3},
                {"id": "silver", "min_purchases": 100000, "accrual_percent": 5},
                {"id": "gold", "min_purchases": 500000, "accrual_percent": 7},
            ],
        },
        "campaigns": campaigns or [],
    }
    return yaml.safe_dump(document)
