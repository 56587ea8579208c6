"""Coupon codes and uses, gift certificates and their balance moves.

Revision ID: 0002
"""

from alembic import op

from migrations.versions import statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE coupon_batches (
    id           bigserial PRIMARY KEY,
    campaign_id  text NOT NULL,
    count        integer NOT NULL,
    prefix       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Unique single-use codes of batch coupon campaigns (shared codes live in the program document).
CREATE TABLE coupon_codes (
    code         text PRIMARY KEY,
    campaign_id  text NOT NULL,
    batch_id     bigint NOT NULL REFERENCES coupon_batches (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A use is recorded at confirm and released when its receipt is refunded or cancelled in full.
CREATE TABLE coupon_uses (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL,
    campaign_id  text NOT NULL,
    account_id   bigint REFERENCES accounts (id),
    receipt_id   text NOT NULL REFERENCES receipts (receipt_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz,
    UNIQUE (receipt_id, code)
);
CREATE INDEX coupon_uses_live ON coupon_uses (code, account_id) WHERE released_at IS NULL;

CREATE TABLE gift_certificates (
    code            text PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('issued', 'active', 'used', 'void')),
    nominal         bigint NOT NULL CHECK (nominal > 0),
    balance         bigint NOT NULL CHECK (balance >= 0),
    expires_at      timestamptz,
    single_use      boolean NOT NULL DEFAULT false,
    sold_receipt_id text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every change of a certificate's balance, so that the audit can prove each balance.
CREATE TABLE certificate_moves (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL REFERENCES gift_certificates (code),
    kind        text NOT NULL CHECK (kind IN ('issue', 'sale', 'payment', 'burn', 'refund', 'restore', 'void')),
    amount      bigint NOT NULL,
    receipt_id  text,
    refund_id   text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_moves_code ON certificate_moves (code);
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE certificate_moves, gift_certificates, coupon_uses, coupon_codes, coupon_batches")
