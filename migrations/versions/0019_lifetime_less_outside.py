"""A period that holds most of the history is read as the lifetime figures less the days outside it, and
registrations without a join of every account (issue 15, its 2 s goal at 1M accounts / 10M receipts).

The customers report ranks every member by their sums over the period, and the uplift sums every eligible
member's receipts over it: both read every member-day of the period (7.8M rows of `report_members` and 7.5M
of `report_holdout` for a year of 10M receipts: 2.4 s and 1.9–2.2 s). Per member lifetime figures less the
member-days outside the period give the same sums from far fewer rows when the period holds most of them:

- `report_accounts.lines` joins its lifetime receipts and revenue, so that every ranking (items per receipt
  too) can be read so;
- `report_accounts.created_at`, when the buyer's account was opened: the stores report counts registrations
  per store of the first purchase from it alone, and every account's per day from `accounts` alone (a join of
  the two took 1.0–1.1 s for a year at 1M accounts, the two passes 0.55 s);
- `report_holdout_members`: per campaign, member and group, the lifetime sums of `report_holdout`, and an
  index of `report_holdout` by campaign and day, to read the days outside a period (its key is by member).

Each is filled here from what it sums or copies, and by the roll-up from then on.

Revision ID: 0019
"""

from alembic import op

from migrations.versions import statements

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE report_accounts ADD COLUMN lines bigint NOT NULL DEFAULT 0,
                            ADD COLUMN created_at timestamptz NOT NULL DEFAULT '-infinity';
UPDATE report_accounts a SET lines = m.lines
FROM (SELECT account_id, sum(lines)::bigint AS lines FROM report_members GROUP BY account_id) m
WHERE m.account_id = a.account_id;
UPDATE report_accounts a SET created_at = c.created_at FROM accounts c WHERE c.id = a.account_id;
-- the roll-up sets a new buyer's created_at after each fold: found here
CREATE INDEX report_accounts_unregistered ON report_accounts (account_id) WHERE created_at = '-infinity';
CREATE TABLE report_holdout_members (
    campaign_id  text NOT NULL,
    account_id   bigint NOT NULL,
    held_out     boolean NOT NULL,
    receipts     bigint NOT NULL,
    revenue      bigint NOT NULL,
    PRIMARY KEY (campaign_id, account_id, held_out)
);
-- the roll-up deletes the rows at zero receipts after each fold: found here, not by a pass over the table
CREATE INDEX report_holdout_members_empty ON report_holdout_members (campaign_id) WHERE receipts = 0;
INSERT INTO report_holdout_members (campaign_id, account_id, held_out, receipts, revenue)
SELECT campaign_id, account_id, held_out, sum(receipts), sum(revenue) FROM report_holdout GROUP BY 1, 2, 3;
CREATE INDEX report_holdout_days ON report_holdout (campaign_id, day) INCLUDE (account_id, held_out, receipts, revenue);
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX report_holdout_days")
    op.execute("DROP TABLE report_holdout_members")
    op.execute("ALTER TABLE report_accounts DROP COLUMN lines, DROP COLUMN created_at")
