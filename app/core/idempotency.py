"""Request fingerprints: the same request after validation gives the same bytes."""

from __future__ import annotations

import hashlib

import orjson
from pydantic import BaseModel


def fingerprint(model: BaseModel, exclude: set[str] | None = None) -> bytes:
    """Key order, whitespace, defaults left out and `"2"` vs `"2.000"` do not change it; an offset does.
    `exclude`: fields a newer version of the model added, left out while unset so that the fingerprints
    stored before they existed still match."""
    canonical = model.model_dump(mode="json", by_alias=True, exclude=exclude)
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).digest()
