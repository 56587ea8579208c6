"""Report summaries for the stores, customers and KPI reports (issue 15): each member-day also sums its
revenue and lines, each buyer remembers the store of their first standing receipt, and member-days get
indexes by store and member and by member.

No new table: both are summaries already placed by account (deploy/SCALING.md section 4). Rows written
before carry zeros and an empty store, so the summaries are started again: the next roll-up rebuilds them
from the history (within a request below 20,000 receipts; otherwise `bonus-engine report rebuild`, and
reports answer 503 `reports_rebuilding` until it has run).

Revision ID: 0006
"""

from alembic import op

from migrations.versions import statements

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE report_members ADD COLUMN revenue bigint NOT NULL DEFAULT 0,
                           ADD COLUMN lines bigint NOT NULL DEFAULT 0;
ALTER TABLE report_accounts ADD COLUMN first_store_id text NOT NULL DEFAULT '';
-- members per store over a long period: an index-only scan in (store, member) order counts them without
-- sorting every member-day (a year at 10 M receipts: 1.3 s instead of 4 s); only the roll-up writes it
CREATE INDEX report_members_store_account ON report_members (store_id, account_id, day);
-- the customers report sums each member's days: in member order from this index alone, a long period needs
-- no hash of every member (a year at 10 M receipts: 1.7 s instead of 3 to 4 s)
CREATE INDEX report_members_account ON report_members (account_id) INCLUDE (day, store_id, receipts, revenue, lines);
UPDATE report_state SET time_zone = '', rolled_at = NULL WHERE id = 1;
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX report_members_store_account, report_members_account")
    op.execute("ALTER TABLE report_accounts DROP COLUMN first_store_id")
    op.execute("ALTER TABLE report_members DROP COLUMN revenue, DROP COLUMN lines")
