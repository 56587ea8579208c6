"""Named row types for the records a statement returns inside arrays (an account's lots, its purchase facts,
a redemption's moves).

A statement such as `refund_state` answers with arrays of records, one round trip. An anonymous record
(`array_agg((id, remaining, ...))`) cannot cross from a Citus worker to the coordinator: the coordinator
reads each value back with the type's input function, and PostgreSQL has none for anonymous records
("input of anonymous composite types is not implemented"). A named type has one, and Citus creates it on
every node. Plain PostgreSQL answers the same arrays as before; asyncpg decodes both alike (in binary: a
row type cannot hold a json value, which this service decodes from text).

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TYPES = {
    "lot_row": "id bigint, remaining bigint, available_at timestamptz, expires_at timestamptz",
    "account_lot_row": "account_id bigint, id bigint, remaining bigint, available_at timestamptz,"
                       " expires_at timestamptz",
    "purchase_facts_row": "purchases bigint, oldest_in_window timestamptz, first_purchase timestamptz,"
                          " last_purchase timestamptz",
    "lot_move_row": "entry_id bigint, lot_id bigint, points bigint",
}


def upgrade() -> None:
    for name, fields in TYPES.items():
        op.execute(f"CREATE TYPE {name} AS ({fields})")


def downgrade() -> None:
    op.execute("DROP TYPE " + ", ".join(TYPES))
