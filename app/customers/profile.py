"""Profile use cases: change (a pos key), read (admin), erase (admin). A patch is written by
app/accounts/profile.py, as a registration that carries a profile writes it.

A profile is personal data: nothing here logs it or counts it in a metric, and error messages name the
field, never its value (docs/security.md, Threat model).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.accounts import repository as accounts
from app.accounts.profile import apply
from app.accounts.schemas import ProfilePatch
from app.core import metrics
from app.core.context import AppContext
from app.core.errors import not_found


def profile_json(card: str, row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {"card": card, "birth_date": None, "gender": None, "attributes": {}, "updated_at": None}
    return {"card": card, "birth_date": row["birth_date"].isoformat() if row["birth_date"] else None,
            "gender": row["gender"], "attributes": dict(row["attributes"]),
            "updated_at": row["updated_at"].isoformat() if row["updated_at"] else None}


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
        return profile_json(card, await accounts.profile(conn, account.id))


async def erase(ctx: AppContext, card: str) -> None:
    async with ctx.db.transaction() as conn:
        account = await accounts.lock(conn, card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        await accounts.erase_profile(conn, account.id)
    metrics.PROFILE_CHANGES.labels("erase").inc()
