"""Custom segments (issue 14, part 3): a marketer's filters over the customer card, and who is in each.

`segments` holds each segment's document and what its last refresh found (members, when). Membership is
kept on the account row, `accounts.segments` (the ids of the custom segments the account is in, NULL for
none), because confirm reads that row already under its lock: a campaign steered by a custom segment costs
a confirm no statement and no join. A refresh rewrites only the rows whose membership changed, a few
thousand accounts per transaction, so a confirm waits for at most one such batch.

Revision ID: 0010
"""

from alembic import op

from migrations.versions import statements

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE segments (
    id            text PRIMARY KEY,
    document      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    members       bigint,        -- as of refreshed_at; NULL until the first refresh
    refreshed_at  timestamptz
);
ALTER TABLE accounts ADD COLUMN segments text[];
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN segments")
    op.execute("DROP TABLE segments")
