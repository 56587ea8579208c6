"""Account use cases: register, look up, ledger history, adjustments, block and unblock."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.core import metrics
from app.core.context import AppContext, utcnow
from app.core.errors import AppError, conflict, not_found
from app.core.idempotency import fingerprint
from app.points.book import Book
from rules import CompiledProgram, not_active_reason

from . import profile, repository
from .schemas import AdjustmentRequest, RegisterRequest
from .view import account_view, iso
from .write import AccountWrite


def entry_json(row: asyncpg.Record) -> dict[str, Any]:
    entry = {"id": str(row["id"]), "kind": row["kind"], "points": row["points"], "created_at": iso(row["created_at"])}
    for name in ("receipt_id", "refund_id", "reason", "author"):
        if row[name] is not None:
            entry[name] = row[name]
    for name in ("available_at", "expires_at"):
        if row[name] is not None:
            entry[name] = iso(row[name])
    return entry


async def grant_registration_bonuses(book: Book, program: CompiledProgram, now: datetime) -> None:
    """Registration bonuses fire once, when the account is created (by POST or by auto-enrolment): each
    one active at `now`. Their `when` is not judged: every condition it may name (channel, store, tier,
    segment, weekday and hour) is a fact of a receipt, and a registration has none (judged against a
    made-up `pos` receipt with no store, a bonus limited to `online` or to a store would never fire); and
    the same bonuses fire whether a card is registered or enrolled by a receipt. `bonus-engine simulate`
    (app/simulations/model.py) fires the same ones (docs/contract.md, Registration)."""
    default_days = program.program.points.expire_days
    for bonus in program.registration_bonuses:
        if not_active_reason(bonus, now) is not None:
            continue
        await book.grant("bonus", bonus.points, now, bonus.expires_at(now, default_days),
                         reason=f"registration: {bonus.id}")
        metrics.POINTS.labels("bonus").inc(bonus.points)


def registration_fingerprint(request: RegisterRequest) -> bytes:
    """A registration without a profile keeps the fingerprint it had before profiles existed."""
    return fingerprint(request, exclude={"profile"} if request.profile is None else None)


async def create(write: AccountWrite, card: str, request: RegisterRequest | None) -> repository.AccountRow | None:
    """Open an account, locked, and fire registration bonuses; None if another request created it first.
    Its book is written at once, not with the transaction's others: a batch of confirms reads the new
    account's lots with the rest of its accounts' state."""
    conn = write.conn
    created = await repository.insert(
        conn, card, request.phone if request else None, request.born if request else None,
        registration_fingerprint(request) if request else None,
    )
    account = await repository.lock(conn, card)
    if not created:
        return None
    assert account is not None
    await repository.note_change(conn, account.id)  # a new account may be in custom segments at once
    if request is not None and request.profile is not None:
        await profile.apply(conn, account.id, request.profile)
    book = Book(conn, account.id, [], 0, write.now)
    await grant_registration_bonuses(book, write.program, write.now)
    return account.written(book.debt, await book.flush())


async def register(ctx: AppContext, request: RegisterRequest) -> tuple[dict[str, Any], bool]:
    """(the account, created?): the same body again is a replay; another body is 409 account_exists."""
    print_ = registration_fingerprint(request)
    async with AccountWrite.begin(ctx) as write:
        account = await create(write, request.card, request)
        created = account is not None
        if account is None:
            account = await write.lock(request.card)
            assert account is not None
            if account.registration_fingerprint is None:
                # enrolled by a receipt: the first registration fills in the details, no second bonus
                await repository.set_registration(write.conn, account.id, request.phone, request.born, print_)
                if request.profile is not None:
                    await profile.apply(write.conn, account.id, request.profile)
                account = await write.lock(request.card)  # its details as written, read back once
                assert account is not None
            elif account.registration_fingerprint != print_:
                raise conflict("account_exists", "this card is already registered with other details")
        view = await write.view(account)
    return view, created


async def look_up(ctx: AppContext, card: str) -> dict[str, Any]:
    program = ctx.programs.current
    key = ctx.snapshot_key(card)
    cached = await ctx.cache.get_snapshot(key)
    if cached is not None:
        return dict(cached)
    now = utcnow()
    async with ctx.db.connection() as conn:
        account = await repository.get(conn, card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        view, changes_at = await account_view(conn, account, program, now)
    await ctx.cache_account(view, account.version, changes_at, after_write=False)
    return view


def _cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"l{entry_id}".encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("l") or not text[1:].isdigit() or not 0 < int(text[1:]) < 2**63:
            raise ValueError
        return int(text[1:])
    except ValueError:
        raise AppError(422, "invalid_cursor", "the cursor is not one this service gave") from None


async def ledger(ctx: AppContext, card: str, limit: int, cursor: str | None) -> dict[str, Any]:
    before = _parse_cursor(cursor) if cursor else None
    async with ctx.db.connection() as conn:
        account = await repository.get(conn, card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        rows = await repository.ledger_page(conn, account.id, before, limit + 1)
    entries = [entry_json(row) for row in rows[:limit]]
    next_cursor = _cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    return {"entries": entries, "next_cursor": next_cursor}


async def adjust(ctx: AppContext, card: str, request: AdjustmentRequest, author: str) -> tuple[dict[str, Any], bool]:
    """(result, replayed?): a manual credit (a new lot) or debit (FIFO, may go below zero), with its author."""
    if request.points == 0:
        raise AppError(422, "validation_error", "points must not be 0",
                       errors=[{"path": "points", "message": "must not be 0"}])
    print_ = fingerprint(request)
    async with AccountWrite.begin(ctx) as write:
        conn = write.conn
        account = await write.lock(card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        if request.adjustment_id is not None:
            done = await repository.find_adjustment(conn, account.id, request.adjustment_id)
            if done is not None:
                if done["fingerprint"] != print_:
                    raise conflict("idempotency_conflict", "this adjustment_id was used with another body")
                return dict(done["result"]), True
        book = await write.open(account)
        fields = {"reason": request.reason, "author": author}
        now = write.now
        if request.points > 0:
            days = request.expire_days or write.program.program.points.expire_days
            entry_id, _ = await book.grant("adjustment", request.points, now,
                                           now + timedelta(days=days) if days else None, **fields)
        else:
            entry_id, _ = await book.spend("adjustment", -request.points, **fields)
        await write.flush()
        view = await write.view(account)
        result = {"entry": entry_json(await repository.entry(conn, account.id, entry_id)), "account": view}
        if request.adjustment_id is not None:
            await repository.save_adjustment(conn, account.id, request.adjustment_id, print_, result)
    metrics.POINTS.labels("adjustment").inc(abs(request.points))
    return result, False


async def set_blocked(ctx: AppContext, card: str, blocked: bool) -> dict[str, Any]:
    status = "blocked" if blocked else "active"
    async with AccountWrite.begin(ctx) as write:
        account = await write.lock(card)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        write.versions[account.id] = await repository.set_status(write.conn, account.id, status)
        return await write.view(replace(account, status=status))
