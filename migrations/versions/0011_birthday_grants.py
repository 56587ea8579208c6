"""Birthday bonuses (issue 14 part 5): one row per account, campaign and birthday year granted.

The primary key (account_id, campaign_id, year) is what makes a birthday bonus exactly once: the sweep
inserts the row under the account's lock, and a second sweeper, worker or `bonus-engine birthdays` that gets
there later finds it. `entry_id` is the ledger entry it wrote (the ledger keeps the points; this row keeps no
personal data beyond the year).

`accounts_birthday` finds the accounts whose birthday falls on a day (month × 100 + day) without reading
every account. Partial: accounts without a birth date (most enrolled by a receipt) are not in it. It does
not slow down confirms: they rewrite an account's debt and version, never its birth date, so their updates
stay HOT.

Revision ID: 0011
"""

from alembic import op

from migrations.versions import statements

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE birthday_grants (
    account_id   bigint NOT NULL REFERENCES accounts (id),
    campaign_id  text NOT NULL,
    year         integer NOT NULL,
    entry_id     bigint NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, campaign_id, year)
);
CREATE INDEX accounts_birthday
    ON accounts (((extract(month FROM birth_date) * 100 + extract(day FROM birth_date))::int))
    WHERE birth_date IS NOT NULL;
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX accounts_birthday")
    op.execute("DROP TABLE birthday_grants")
