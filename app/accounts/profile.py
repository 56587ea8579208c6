"""How a profile patch is written to an account (issue 14): at registration (service.py) and by
PATCH /v1/accounts/{card} (app/customers/profile.py), in the caller's transaction under the account's lock."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.core.errors import AppError

from . import repository
from .schemas import MAX_ATTRIBUTES, ProfilePatch


def merged_attributes(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The attributes after a patch: null removes a key, any other value adds or replaces it; 422 when the
    result would hold more than MAX_ATTRIBUTES keys."""
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_ATTRIBUTES:
        raise AppError(422, "validation_error", "the request is invalid", errors=[{
            "path": "profile.attributes",
            "message": f"a profile holds at most {MAX_ATTRIBUTES} attributes; this would make {len(merged)}"}])
    return dict(sorted(merged.items()))


async def apply(conn: asyncpg.Connection, account_id: int, patch: ProfilePatch) -> None:
    """Write what the patch names, under the caller's transaction; the fields it leaves out stay."""
    given = patch.model_fields_set
    if "birth_date" in given:
        await repository.set_birth_date(conn, account_id, patch.birth_date)
    if not given & {"gender", "attributes"}:
        return
    stored = await repository.profile(conn, account_id)
    assert stored is not None
    gender = patch.gender if "gender" in given else stored["gender"]
    attributes = merged_attributes(stored["attributes"], patch.attributes or {})
    await repository.save_profile(conn, account_id, gender, attributes)
