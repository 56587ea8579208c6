"""What a refund sends to PostgreSQL, and the account view it computes in memory.

A refund reads its account's state in one statement and writes the ledger, the receipt and the refund in
another: six round trips from BEGIN to COMMIT for a card's receipt, however many points go back. The view
it caches is computed from purchase facts read without the refunded receipt, plus what is left of that
receipt: it must equal what PostgreSQL reads once the refund is committed, as the receipt moves out of the
tier window's sum, stops being the last purchase, or the first.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from app.accounts import repository as accounts
from app.accounts.view import account_view
from app.core.auth import Principal
from app.core.context import AppContext
from app.receipts import refunds, service
from app.receipts.schemas import RefundLine, RefundRequest
from loadtests.seed import card_of
from rules import Receipt, compile_program, load_program
from tests.conftest import Servers
from tests.inprocess import app_context
from tests.programs import program
from tests.support import line, receipt
from tests.test_confirm_statements import SENT, _init_watched, seed_accounts, transaction_of

# a short tier window, so that receipts inside and outside it can both be refunded
PROGRAM = compile_program(load_program(program(pending_days=0, window_days=10), "yaml"), 1)
ADMIN = Principal("test", "admin", None)
CARD = card_of(1)


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def confirm(ctx: AppContext, receipt_id: str, days_ago: float, **fields: Any) -> None:
    body = receipt([line("1", 30000), line("2", 20000), line("3", 10000)], CARD, receipt_id=receipt_id,
                   issued_at=ago(days_ago), **fields)
    await service.confirm(ctx, Receipt.model_validate(body), ADMIN)


async def views_agree(ctx: AppContext) -> tuple[Any, Any]:
    """(the view the refund cached, the view PostgreSQL reads now)."""
    cached = await ctx.cache.get_snapshot(ctx.snapshot_key(CARD))
    async with ctx.db.connection() as conn:
        account = await accounts.get(conn, CARD)
        assert account is not None
        read, _ = await account_view(conn, account, PROGRAM, datetime.now(UTC))
    return cached, read


def test_refunds_send_six_statements_and_cache_the_view_postgres_reads(servers: Servers) -> None:
    database_url = servers.new_database()

    async def run() -> list[tuple[str, list[str], Any, Any]]:
        await seed_accounts(database_url, 1)
        steps: list[tuple[str, list[str], Any, Any]] = []
        async with app_context(database_url, servers.redis_url, f"t{servers.run_id}refstmt:", PROGRAM,
                               pool_max=1, init=_init_watched) as ctx:
            await confirm(ctx, "old", 20)  # before the window: counts only as the first purchase
            await confirm(ctx, "mid", 5)
            await confirm(ctx, "last", 0.001, redeem_points=1000)

            async def refund(receipt_id: str, request: RefundRequest | None) -> None:
                if request is None:
                    await refunds.cancel(ctx, receipt_id, ADMIN)
                else:
                    await refunds.refund(ctx, receipt_id, request, ADMIN)

            partial = RefundRequest(refund_id="p1", lines=[RefundLine(line_id="1", quantity="1")])
            for name, receipt_id, request in [
                ("part of the last receipt, points redeemed on it go back", "last", partial),
                ("part of a receipt inside the window", "mid", RefundRequest(refund_id="p2", lines=[
                    RefundLine(line_id="2", quantity="1")])),
                ("the rest of the last receipt: the last purchase moves back", "last", RefundRequest(refund_id="all")),
                ("a cancel of the first purchase, outside the window", "old", None),
            ]:
                sent = await transaction_of(lambda r=receipt_id, q=request: refund(r, q))
                cached, read = await views_agree(ctx)
                steps.append((name, sent, cached, read))
            SENT.clear()
        return steps

    steps = asyncio.run(run())
    for name, sent, cached, read in steps:
        assert cached == read, name
        assert sent[0].startswith("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"), (name, sent)
        assert sent[-1] == "COMMIT", (name, sent)
        assert len(sent) == 6, (name, sent)
    # the refunds changed what the view shows: the first purchase went, and the tier sum fell
    first_read, last_read = steps[0][3], steps[-1][3]
    assert last_read["tier"]["purchases"] < first_read["tier"]["purchases"]
