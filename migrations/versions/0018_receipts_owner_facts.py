"""An account's purchase facts read from the index alone (issue 14: custom segments at 1M accounts / 10M
receipts; and every confirm's tier purchases).

`receipts_owner_issued` (migration 0004) found an account's receipts by (owner, issued_at), and the tier
window's sum, the first and the last purchase then read each receipt's row for its status and amounts: a
receipt row holds its lines and result (a few KB), so one per page. At 10M receipts the turn of a day made a
segments refresh evaluate 105,225 accounts, which read 1.97M such pages (18 receipts each): 22.6 s. With the
columns those facts read in the index (`INCLUDE`), they are index-only scans on pages VACUUM has marked
all-visible: 7.7 s on the same database, under a CI run's load. Confirms read the same facts for the tier.

The index is rebuilt in the migration's transaction: 15 s at 10M receipts here, while writes to `receipts`
wait for it (plan the upgrade of a large database for a quiet hour).

Revision ID: 0018
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_WITH_FACTS = ("CREATE INDEX {name} ON receipts (owner_id, issued_at)"
               " INCLUDE (account_id, status, purchase_amount, refunded_purchase) WHERE account_id IS NOT NULL")


def upgrade() -> None:
    op.execute("DROP INDEX receipts_owner_issued")
    op.execute(_WITH_FACTS.format(name="receipts_owner_issued"))


def downgrade() -> None:
    op.execute("DROP INDEX receipts_owner_issued")
    op.execute("CREATE INDEX receipts_owner_issued ON receipts (owner_id, issued_at) WHERE account_id IS NOT NULL")
