"""Custom segments refreshed incrementally (issue 14, its performance goal): what the last refresh saw, the
accounts whose profile changed since, and indexes for the accounts a passing day or hour moves.

A refresh evaluates every segment only for the accounts whose membership can have changed since the last one
(app/segments/changes.py): those with receipts or refunds written since (their `change_xid`), those whose
profile changed or that were opened since (`segment_changes`, written by the triggers below), and those
whose time-based conditions crossed a boundary (a purchase leaving a `within_days` window, a CVM segment's
days passing). `segment_state` (one row, a reference table on Citus) remembers what that needs: the time and
day of the last refresh, the transaction ids it had seen, the program settings and RFM boundaries it used.

`segment_changes` is distributed by account, colocated with `accounts` (deploy/SCALING.md section 4): the
statements that open an account or write its birth date or profile add a row in the same transaction (one
shard), never a confirm of a known account. Not triggers: Citus distributes no table that has one unless
`citus.enable_unsafe_triggers` is on. The rows are deleted once a refresh has read them.

`report_accounts` gets indexes on the first and last purchase, and `receipts` a BRIN index on `issued_at`
(receipts arrive in about the order they are issued, so it stays small and costs a confirm next to
nothing, as `change_xid`'s does): the accounts whose CVM segment, `days_since_last`, tier or `bought`
window moves between two refreshes are found by range, not by a pass over every buyer.

Revision ID: 0016
"""

from alembic import op

from migrations.versions import statements

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE segment_state (
    id             integer PRIMARY KEY CHECK (id = 1),
    evaluated_at   timestamptz NOT NULL,    -- the `now` of the last refresh of every segment
    today          date NOT NULL,           -- its day in time_zone
    time_zone      text NOT NULL,
    since_xid      bigint NOT NULL,         -- every row written by a transaction below this was seen
    program_key    text NOT NULL,           -- the program's tier and CVM settings it used, as JSON
    rfm_recency    timestamptz[],           -- the RFM boundaries it used (NULL: none were stored)
    rfm_frequency  bigint[],
    rfm_monetary   bigint[]
);
CREATE TABLE segment_changes (
    account_id  bigint NOT NULL,
    change_xid  bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
CREATE INDEX segment_changes_change_xid ON segment_changes USING brin (change_xid);
CREATE INDEX report_accounts_last_purchase ON report_accounts (last_purchase_at);
CREATE INDEX report_accounts_first_purchase ON report_accounts (first_purchase_at);
CREATE INDEX receipts_issued ON receipts USING brin (issued_at)
"""

def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX report_accounts_last_purchase, report_accounts_first_purchase, receipts_issued")
    op.execute("DROP TABLE segment_changes, segment_state")
