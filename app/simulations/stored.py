"""A stored request body back into a `Receipt` without validating it again.

`receipts.body` holds what confirm validated, dumped by pydantic (codes and categories already normalized,
defaults left out), so validating it again only repeats work: on register-mix receipts `receipt_of` took
about a third of `model_validate_json`'s time (loadtests/simulate_bench.py prints both). Since validation
remembers the quantity texts it has seen (rules/_types.py, 2026-12-07) the two cost the same (10 against 12 µs
a shoe receipt, 47 against 44 µs a register-mix one): this module can give way to validation. pydantic's own
`model_construct` was slower than validating (it walks every field in Python), so the models are filled
the way it fills them, with the defaults of their fields. A body that is not such a dump raises (KeyError,
ValueError, orjson.JSONDecodeError); the caller counts it as not replayable."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from rules import CertificatePayment, Line, Receipt

__all__ = ["receipt_of", "validated"]

Model = TypeVar("Model", bound=BaseModel)


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    return {name: field.get_default(call_default_factory=True)
            for name, field in model.model_fields.items() if not field.is_required()}


_LINE = _defaults(Line)
_RECEIPT = _defaults(Receipt)
_PAYMENT = _defaults(CertificatePayment)
assert all(not isinstance(value, list | dict) or not value for value in (*_LINE.values(), *_RECEIPT.values()))


def _built(model: type[Model], defaults: dict[str, Any], values: dict[str, Any]) -> Model:
    """What `model.model_construct(**values)` makes, without its per-field walk."""
    item = object.__new__(model)
    fields = {name: (list(value) if isinstance(value, list) else value) for name, value in defaults.items()}
    fields.update(values)
    object.__setattr__(item, "__dict__", fields)
    object.__setattr__(item, "__pydantic_fields_set__", set(values))
    object.__setattr__(item, "__pydantic_extra__", None)
    object.__setattr__(item, "__pydantic_private__", None)
    return item


@lru_cache(maxsize=4096)
def _quantity(text: str) -> Decimal:
    return Decimal(text)


def receipt_of(body: bytes | str) -> Receipt:
    """The receipt of a stored body (trusted: written by confirm from a validated `Receipt`)."""
    document: dict[str, Any] = orjson.loads(body)
    document["issued_at"] = datetime.fromisoformat(document["issued_at"])
    lines = []
    for line in document["lines"]:
        line["quantity"] = _quantity(line["quantity"])
        lines.append(_built(Line, _LINE, line))
    document["lines"] = lines
    if "gift_certificates" in document:
        document["gift_certificates"] = [_built(CertificatePayment, _PAYMENT, payment)
                                         for payment in document["gift_certificates"]]
    return _built(Receipt, _RECEIPT, document)


def validated(body: bytes | str) -> Receipt:
    """The same receipt through full validation: the slow path, for comparison and for tests."""
    return Receipt.model_validate_json(body)
