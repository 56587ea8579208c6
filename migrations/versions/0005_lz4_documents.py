"""The receipts' and refunds' JSON documents compressed with lz4 instead of pglz, where the server has it.

A receipt of the register mix stores about 8 KB of lines and result, which PostgreSQL compresses on every
insert; with lz4 the SQL ceiling of a confirm rose by a fifth on this machine (loadtests/RESULTS.md,
"The changes, each measured": lz4). It applies to rows written from now on; old rows keep pglz and read as before. A
server built without lz4 (the embedded PostgreSQL is one) keeps pglz: the migration says so and goes on.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = {"receipts": ("lines", "links", "result"), "refunds": ("refund",)}


def _compress_with(method: str) -> list[str]:
    return [
        f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {column} SET COMPRESSION {method}" for column in columns)
        for table, columns in COLUMNS.items()
    ]


def upgrade() -> None:
    op.execute(f"""
        DO $$
        BEGIN
            {"; ".join(_compress_with("lz4"))};
        EXCEPTION WHEN feature_not_supported THEN
            RAISE NOTICE 'this PostgreSQL has no lz4: receipts and refunds stay compressed with pglz';
        END $$
    """)


def downgrade() -> None:
    for statement in _compress_with("pglz"):  # one statement each: the driver prepares what it sends
        op.execute(statement)
