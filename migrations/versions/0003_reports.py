"""Report summaries, kept current by an incremental roll-up that never touches the write path.

Every row the roll-up reads gets `change_xid`, the id of the transaction that wrote it (a column default,
so confirm and refund issue no extra statement). The roll-up folds in the rows of transactions below its
snapshot's xmin, which are all finished, and remembers that horizon as its watermark: nothing is counted
twice or missed, whatever order concurrent transactions commit in. BRIN indexes cost next to nothing on
insert because the ids grow with insertion order.

Revision ID: 0003
"""

from alembic import op

from migrations.versions import statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TRACKED = ("receipts", "refunds", "ledger", "lot_moves")

SCHEMA = "\n".join(
    f"ALTER TABLE {table} ADD COLUMN change_xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);\n"
    f"CREATE INDEX {table}_change_xid ON {table} USING brin (change_xid);"
    for table in TRACKED
) + """
-- what a refund took off the receipt's purchase amount (certificate sales excluded), for revenue
ALTER TABLE refunds ADD COLUMN purchase_refunded bigint NOT NULL DEFAULT 0;
CREATE INDEX accounts_created ON accounts (created_at);

CREATE TABLE report_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    watermark   bigint NOT NULL,             -- rows of transactions below this are rolled up
    time_zone   text NOT NULL,               -- the zone whose calendar days the summaries use
    rolled_at   timestamptz
);
-- rows already there carry this migration's id (the column default filled them), so they are rolled up
INSERT INTO report_state (id, watermark, time_zone) VALUES (1, pg_current_xact_id()::text::bigint, 'UTC');

-- Receipts that stand (confirmed or partially refunded), by the chain's day of issued_at and store.
CREATE TABLE report_sales (
    day             date NOT NULL,
    store_id        text NOT NULL,
    receipts        bigint NOT NULL,
    with_card       bigint NOT NULL,
    revenue         bigint NOT NULL,         -- purchase amounts less refunds
    card_revenue    bigint NOT NULL,
    lines           bigint NOT NULL,
    PRIMARY KEY (day, store_id)
);

-- Who bought on which day where; `receipts` > 0 always (rows at 0 are deleted).
CREATE TABLE report_members (
    day             date NOT NULL,
    store_id        text NOT NULL,
    account_id      bigint NOT NULL,
    receipts        bigint NOT NULL,
    PRIMARY KEY (day, store_id, account_id)
);
CREATE INDEX report_members_empty ON report_members (day) WHERE receipts = 0;

-- What each campaign did on the standing receipts it touched.
CREATE TABLE report_campaigns (
    day             date NOT NULL,
    store_id        text NOT NULL,
    campaign_id     text NOT NULL,
    receipts        bigint NOT NULL,
    discount        bigint NOT NULL,
    points          bigint NOT NULL,
    coupon_uses     bigint NOT NULL,
    revenue         bigint NOT NULL,
    PRIMARY KEY (day, store_id, campaign_id)
);

-- Ledger entries by the chain's day of created_at, kind and the store of their receipt ('' for none).
CREATE TABLE report_points (
    day             date NOT NULL,
    store_id        text NOT NULL,
    kind            text NOT NULL,
    points          bigint NOT NULL,
    entries         bigint NOT NULL,
    PRIMARY KEY (day, store_id, kind)
);

-- Points left in lots by the chain's day they expire ('infinity': never); the sum of lot moves.
CREATE TABLE report_expiry (
    day             date PRIMARY KEY,
    points          bigint NOT NULL
);

-- Each member's standing purchases, for CVM segments and the RFM grid; no row: no purchase.
CREATE TABLE report_accounts (
    account_id        bigint PRIMARY KEY,
    receipts          bigint NOT NULL,
    revenue           bigint NOT NULL,
    first_purchase_at timestamptz NOT NULL,
    last_purchase_at  timestamptz NOT NULL
);
CREATE INDEX report_accounts_empty ON report_accounts (account_id) WHERE receipts = 0;
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE report_accounts, report_expiry, report_points, report_campaigns, report_members,"
               " report_sales, report_state")
    op.execute("DROP INDEX accounts_created")
    op.execute("ALTER TABLE refunds DROP COLUMN purchase_refunded")
    for table in TRACKED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN change_xid")
