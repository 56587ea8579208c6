"""Request fingerprints: the same request after validation gives the same bytes."""

from __future__ import annotations

import hashlib

import orjson
from pydantic import BaseModel


def fingerprint(model: BaseModel) -> bytes:
    """Key order, whitespace, defaults left out and `"2"` vs `"2.000"` do not change it; an offset does."""
    canonical = model.model_dump(mode="json", by_alias=True)
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).digest()
