"""Profile use cases: change (a pos key, at registration or later), read (admin), erase (admin).

A profile is personal data: nothing here logs it or counts it in a metric, and error messages name the
field, never its value (docs/security.md, Threat model).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.accounts import repository as accounts
from app.core import metrics
from app.core.context import AppContext
from app.core.errors import AppError, not_found

from . import repository
from .schemas import MAX_ATTRIBUTES, ProfilePatch


def profile_json(card: str, row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {"card": card, "birth_date": None, "gender": None, "attributes": {}, "updated_at": None}
    return {"card": card, "birth_date": row["birth_date"].isoformat() if row["birth_date"] else None,
            "gender": row["gender"], "attributes": dict(row["attributes"]),
            "updated_at": row["updated_at"].isoformat() if row["updated_at"] else None}


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


async def change(ctx: AppContext, card: str, patch: ProfilePatch) -> None:
    async with ctx.db.transaction() as conn:
        account = await accounts.lock(conn, card)  # one change of a profile at a time: merges see each other
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        await apply(conn, account.id, patch)
    metrics.PROFILE_CHANGES.labels("set").inc()


async def read(ctx: AppContext, card: str) -> dict[str, Any]:
    async with ctx.db.connection() as conn:
        account = await accounts.get(conn, card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        return profile_json(card, await repository.profile(conn, account.id))


async def erase(ctx: AppContext, card: str) -> None:
    async with ctx.db.transaction() as conn:
        account = await accounts.lock(conn, card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        await repository.erase(conn, account.id)
    metrics.PROFILE_CHANGES.labels("erase").inc()
