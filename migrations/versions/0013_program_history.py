"""Program history and the marketer role (issue 18, parts 1 and 4).

- `programs.author`: who published a version, the key id of the Principal (`bootstrap` for the bootstrap
  admin key); `programs.note`: the publisher's own words. Both NULL for the versions stored before this
  migration (and for those a CLI or `make dev` loads: they have no key).
- `api_keys.role` admits `marketer`: campaigns, program versions, templates, reports and segments, nothing of
  the till's work nor of balances, keys or certificates (docs/security.md).

ALTER only: the programs table is small (one row a publish), so adding two NULL columns is instant.

Revision ID: 0013
"""

from alembic import op

from migrations.versions import statements

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE programs ADD COLUMN author text, ADD COLUMN note text;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check,
                     ADD CONSTRAINT api_keys_role_check CHECK (role IN ('pos', 'admin', 'marketer'));
"""

# A marketer key cannot live under the old check: going down takes those keys away (they are revoked in
# effect: the older code does not know the role).
DOWNGRADE = """
DELETE FROM api_keys WHERE role = 'marketer';
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check,
                     ADD CONSTRAINT api_keys_role_check CHECK (role IN ('pos', 'admin'));
ALTER TABLE programs DROP COLUMN note, DROP COLUMN author;
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
