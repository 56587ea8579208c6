"""Customer profiles (issue 14): gender and free attributes per account, and the RFM boundaries the customer
card scores against.

The birth date stays where registration has always written it, `accounts.birth_date`: one place holds it,
whether it came with the registration or a later PATCH of the profile. Gender and attributes get their own
table rather than columns of `accounts`, because every confirm rewrites the account row (its version): the
profile's few hundred bytes would be copied on each write of the hottest table.

`report_rfm` remembers the quintile boundaries of the RFM grid (they take a pass over every buyer, about
1 s at 1 M): the card scores one customer against them in a look-up.

Revision ID: 0007
"""

from alembic import op

from migrations.versions import statements

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE profiles (
    account_id  bigint PRIMARY KEY REFERENCES accounts (id),
    gender      text CHECK (gender IN ('female', 'male', 'unspecified')),
    attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- one row: the RFM grid's quintile boundaries over every buyer, as of computed_at
CREATE TABLE report_rfm (
    id           integer PRIMARY KEY CHECK (id = 1),
    recency      timestamptz[] NOT NULL,
    frequency    bigint[] NOT NULL,
    monetary     bigint[] NOT NULL,
    computed_at  timestamptz NOT NULL
);
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE report_rfm, profiles")
