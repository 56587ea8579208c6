"""The program diff (app/program/diff.py): campaigns by id, fields by dotted path, settings apart."""

from __future__ import annotations

from typing import Any

from app.program.diff import changes, diff


def _program(campaigns: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {"currency": "RUB", "points": {"pending_days": 14, "max_redeem_percent": 50},
            "tiers": {"window_days": 365, "levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]},
            **settings, "campaigns": campaigns}


WINTER = {"id": "winter", "name": "Winter", "type": "receipt_discount", "priority": 10,
          "items": {"categories": ["shoes"]}, "thresholds": [{"min_amount": 500000, "percent": 5}]}
CARE = {"id": "care", "name": "Care x2", "type": "accrual", "priority": 20, "multiplier": 2}
WELCOME = {"id": "welcome", "name": "Welcome", "type": "bonus", "priority": 1, "trigger": "registration",
           "points": 20000}


def test_the_same_document_has_no_differences_whatever_the_campaigns_order() -> None:
    assert diff(_program([WINTER, CARE]), _program([CARE, WINTER])) == {
        "added": [], "removed": [], "changed": [], "settings": []}


def test_campaigns_added_removed_and_changed_by_field() -> None:
    changed_winter = {**WINTER, "priority": 12, "items": {"categories": ["shoes", "bags"]},
                      "thresholds": [{"min_amount": 500000, "percent": 7}, {"min_amount": 900000, "percent": 10}],
                      "group": "promo"}
    found = diff(_program([WINTER, CARE]), _program([WELCOME, changed_winter]))
    assert found["added"] == ["welcome"]
    assert found["removed"] == ["care"]
    assert found["changed"] == [{"id": "winter", "changes": [
        {"path": "priority", "before": 10, "after": 12},
        # a list of values is one value; a list of mappings goes element by element
        {"path": "items.categories", "before": ["shoes"], "after": ["shoes", "bags"]},
        {"path": "thresholds[0].percent", "before": 5, "after": 7},
        {"path": "thresholds[1]", "before": None, "after": {"min_amount": 900000, "percent": 10}},
        {"path": "group", "before": None, "after": "promo"},  # absent before
    ]}]
    assert found["settings"] == []


def test_settings_outside_the_campaigns() -> None:
    before = _program([WINTER])
    after = _program([WINTER], points={"pending_days": 0, "max_redeem_percent": "7.5"},
                     tiers={"window_days": 365, "levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 3},
                                                           {"id": "silver", "min_purchases": 1000000,
                                                            "accrual_percent": 5}]},
                     max_receipt_age_days=7)
    assert diff(before, after)["settings"] == [
        {"path": "points.pending_days", "before": 14, "after": 0},
        {"path": "points.max_redeem_percent", "before": 50, "after": "7.5"},
        {"path": "tiers.levels[1]", "before": None,
         "after": {"id": "silver", "min_purchases": 1000000, "accrual_percent": 5}},
        {"path": "max_receipt_age_days", "before": None, "after": 7},
    ]


def test_a_type_change_is_a_change_even_where_python_says_equal() -> None:
    assert changes({"auto_enroll": True}, {"auto_enroll": 1}) == [
        {"path": "auto_enroll", "before": True, "after": 1}]
    assert changes({"percent": 5}, {"percent": 5.0}) == []  # one JSON number
    assert changes({"a": {"b": 1}}, {"a": [1]}) == [{"path": "a", "before": {"b": 1}, "after": [1]}]


def test_the_direction_is_from_before_to_after() -> None:
    forward = diff(_program([WINTER]), _program([CARE]))
    backward = diff(_program([CARE]), _program([WINTER]))
    assert (forward["added"], forward["removed"]) == (backward["removed"], backward["added"]) == (["care"], ["winter"])
