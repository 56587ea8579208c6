"""A row per shared coupon code, for its lock (issue 17: a row lock, not an advisory lock).

A shared code (a coupon campaign's `code`) lives in the program document, not in `coupon_codes`, so racing
receipts used to queue on a transaction-scoped advisory lock of its hash. An advisory lock holds on the
server that takes it: on a Citus cluster whose nodes all take queries it would not serialize anything. The
row is made on the code's first use and locked by every receipt that uses the code; it sits on the shard of
the code's uses (the `cards` group, by `code`).

Revision ID: 0014
"""

from alembic import op

from migrations.versions import statements

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE shared_coupon_codes (
    code        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE shared_coupon_codes")
