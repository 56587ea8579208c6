"""The uplift reads a campaign's members in key order (issue 15, its 2 s goal at 10M receipts).

`report_holdout`'s key was (campaign, day, member, group): a period's rows came in day order, and the per
member sums of `holdout_groups` needed a hash of every member, which spilled to disk for a campaign that a
million members were eligible for (5.0 s for a year at 1M accounts / 10M receipts, `loadtests.reports_bench`).
Keyed (campaign, member, group, day), with the figures in the index, the same rows come in member order:
an index-only scan with the period's days as part of its condition, summed member by member as they pass
(2.0 s for the same year). The roll-up's upsert names the same columns, so it finds the new key unchanged.

Revision ID: 0017
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE report_holdout DROP CONSTRAINT report_holdout_pkey")
    op.execute("ALTER TABLE report_holdout ADD PRIMARY KEY (campaign_id, account_id, held_out, day)"
               " INCLUDE (receipts, revenue)")


def downgrade() -> None:
    op.execute("ALTER TABLE report_holdout DROP CONSTRAINT report_holdout_pkey")
    op.execute("ALTER TABLE report_holdout ADD PRIMARY KEY (campaign_id, day, account_id, held_out)"
               " INCLUDE (receipts, revenue)")
