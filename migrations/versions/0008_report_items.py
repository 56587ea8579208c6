"""Report summaries for the ABC analysis (issue 15): what each SKU and each category sold, per day, for the
whole chain and per store.

Two tables, not one: the chain's ABC over a year reads days × keys rows (about 365 × 1,000), while a row per
store as well would be days × stores × keys (about 15 M at 100 stores), too many to sum within a request.
A store's ABC reads its own rows only, in (store, kind, day) order. `quantity_thousandths` is the sold
quantity in thousandths (receipts carry at most 3 fraction digits), so that sums stay exact integers.
`key` is '' for a line without that key (no category, or a line stored before its SKU and category were kept):
both text columns of a receipt line are at least one character long, so '' cannot clash with a real one.

The summaries are started again, as migration 0006 does: the next roll-up rebuilds them from the history
(within a request below 20,000 receipts; otherwise `bonus-engine report rebuild`, and reports answer 503
`reports_rebuilding` until it has run).

Revision ID: 0008
"""

from alembic import op

from migrations.versions import statements

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = """
-- The standing receipts' lines by the chain's day of issued_at, per kind ('sku' or 'category') and key:
-- revenue (final amounts less refunds), quantity less returns, and the standing receipts holding the key.
CREATE TABLE report_items (
    kind                  text NOT NULL,
    day                   date NOT NULL,
    key                   text NOT NULL,
    revenue               bigint NOT NULL,
    quantity_thousandths  bigint NOT NULL,
    receipts              bigint NOT NULL,
    PRIMARY KEY (kind, day, key)
);
CREATE INDEX report_items_empty ON report_items (kind) WHERE receipts = 0;

-- The same per store: one store's period is a range of this key, read from the index alone (its figures are
-- included): the rows of one store lie all over the table, since a roll-up writes every store's at once (a
-- year of store s1 at 10 M receipts, 352k rows: 1.9 s through the heap)
CREATE TABLE report_store_items (
    store_id              text NOT NULL,
    kind                  text NOT NULL,
    day                   date NOT NULL,
    key                   text NOT NULL,
    revenue               bigint NOT NULL,
    quantity_thousandths  bigint NOT NULL,
    receipts              bigint NOT NULL,
    PRIMARY KEY (store_id, kind, day, key) INCLUDE (revenue, quantity_thousandths, receipts)
);
CREATE INDEX report_store_items_empty ON report_store_items (store_id) WHERE receipts = 0;
UPDATE report_state SET time_zone = '', rolled_at = NULL WHERE id = 1;
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE report_store_items, report_items")
