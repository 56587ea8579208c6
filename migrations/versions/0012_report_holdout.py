"""Report summary for the holdout uplift (issue 15): per campaign with a control group, day, member and group,
the member's standing receipts on which the campaign was eligible, and their revenue.

The roll-up fills it from the `holdout` of the stored results (app/receipts/result.py): no receipt stored
before this migration has one (no campaign had `control_percent`), so the history needs no rebuild. A
member's group is a function of the campaign and the card, so one member has rows of one group only, unless
the campaign's `control_percent` changed: `held_out` is in the key so that such rows never merge.
The uplift of one campaign and period reads a range of the key; per member sums are then summed per group.

Revision ID: 0012
"""

from alembic import op

from migrations.versions import statements

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE report_holdout (
    campaign_id  text NOT NULL,
    day          date NOT NULL,
    account_id   bigint NOT NULL,
    held_out     boolean NOT NULL,
    receipts     bigint NOT NULL,
    revenue      bigint NOT NULL,
    PRIMARY KEY (campaign_id, day, account_id, held_out) INCLUDE (receipts, revenue)
);
CREATE INDEX report_holdout_empty ON report_holdout (day) WHERE receipts = 0;
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE report_holdout")
