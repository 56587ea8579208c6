"""JSON Schema fragments that make the published schema say what the validators say.

Schema only: these land in `model_json_schema()` (and so in /openapi.json) and cost nothing when a body is
validated, which matters on the receipt's path. Each fragment restates a rule a validator in this package
already enforces; `tests/unit/test_json_schema.py` checks that the two agree. What JSON Schema cannot
state (one field compared with another, uniqueness by a normalized key, a number written `2.0` where an
integer is due) stays in the validators and is named in the model's description instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DECIMAL_TEXT", "INT64", "NOT_BLANK", "STRIPPED", "WHITE_SPACE",
           "decimal", "exactly_one", "given", "none_of"]

# Integers of this API: generated clients should hold them in 64-bit integers, never floating point (the
# validators refuse `2107.0`, which JSON Schema's `integer` admits).
INT64: dict[str, Any] = {"format": "int64"}

# `\s` means three things: Unicode White_Space to the validators' patterns (pydantic's Rust engine), that and
# \x1c-\x1f to Python's `str.strip`, and that less \x85 plus \ufeff to JSON Schema's ECMA 262 patterns. So the
# published patterns spell the validators' set out.
WHITE_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
STRIPPED = WHITE_SPACE + r"\x1c-\x1f"

# At least one character that `str.strip` keeps: a code is stripped before it is checked for blank.
NOT_BLANK: dict[str, Any] = {"pattern": f"[^{STRIPPED}]"}

# Decimal text in a range, with at most N fraction digits that are not trailing zeros. Leading zeros are
# allowed (`"02"`); the validators also take exponents, `+` and surrounding white space, which the schema
# leaves out so that generated clients send the plain form.
DECIMAL_TEXT = {
    # (0, 1000000], 3 places: quantities
    "quantity": r"^0*(?:[1-9][0-9]{0,5}(?:\.[0-9]{0,3}0*)?|\.(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9])0*"
                r"|1000000(?:\.0*)?)$",
    # [0, 100], 2 places: percents that may be 0
    "percent": r"^0*(?:[0-9]{1,2}(?:\.[0-9]{0,2}0*)?|\.[0-9]{1,2}0*|100(?:\.0*)?)$",
    # (0, 100], 2 places: percents that must not be 0, and multipliers
    "positive_percent": r"^0*(?:[1-9][0-9]?(?:\.[0-9]{0,2}0*)?|\.(?:[1-9][0-9]?|0[1-9])0*|100(?:\.0*)?)$",
}


def decimal(text: str, *, maximum: int, places: int, positive: bool, description: str) -> dict[str, Any]:
    """A decimal given as a JSON number or as decimal text (`DECIMAL_TEXT[text]`)."""
    lower = {"exclusiveMinimum": 0} if positive else {"minimum": 0}
    number = {"type": "number", **lower, "maximum": maximum, "multipleOf": 10 ** -places}
    return {"anyOf": [number, {"type": "string", "pattern": DECIMAL_TEXT[text]}], "description": description}


def given(name: str) -> dict[str, Any]:
    """The field is present and not null (a null field counts as left out)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def none_of(*names: str) -> dict[str, Any]:
    """None of the fields is given."""
    return {"not": {"anyOf": [given(name) for name in names]}}


def exactly_one(*names: str) -> dict[str, Any]:
    """Exactly one of the fields is given."""
    return {"oneOf": [given(name) for name in names]}
