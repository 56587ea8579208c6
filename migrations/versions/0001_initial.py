"""The ledger, accounts, receipts, programs and keys.

Every table that belongs to an account carries account_id, so the schema can be distributed by
account_id later (deploy/SCALING.md); programs and api_keys are small reference tables.

Revision ID: 0001
"""

from alembic import op

from migrations.versions import statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    key_hash    bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('pos', 'admin')),
    store_id    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE programs (
    version     integer PRIMARY KEY,
    document    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id          bigserial PRIMARY KEY,
    card        text NOT NULL UNIQUE,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
    phone       text,
    birth_date  date,
    registration_fingerprint bytea,          -- NULL while only auto-enrolled by a receipt
    debt        bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
    version     bigint NOT NULL DEFAULT 0,   -- bumped by every write, orders cached snapshots
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE receipts (
    receipt_id        text PRIMARY KEY,      -- the idempotency key, unique in the whole service
    fingerprint       bytea NOT NULL,
    account_id        bigint REFERENCES accounts (id),
    store_id          text NOT NULL,
    issued_at         timestamptz NOT NULL,
    status            text NOT NULL
                      CHECK (status IN ('pending', 'confirmed', 'partially_refunded', 'refunded', 'cancelled')),
    program_version   integer,
    purchase_amount   bigint NOT NULL DEFAULT 0,  -- what counts for tiers, certificate sales excluded
    refunded_purchase bigint NOT NULL DEFAULT 0,
    lines             jsonb NOT NULL DEFAULT '[]',  -- stored per-line figures that refunds reverse
    links             jsonb NOT NULL DEFAULT '{}',  -- lots and entries this receipt created
    result            json,                  -- json keeps the answer's key order
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipts_account_issued ON receipts (account_id, issued_at) WHERE account_id IS NOT NULL;

CREATE TABLE refunds (
    receipt_id   text NOT NULL REFERENCES receipts (receipt_id),
    refund_id    text NOT NULL,
    fingerprint  bytea NOT NULL,
    account_id   bigint,
    store_id     text,
    refund       json NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (receipt_id, refund_id)
);

CREATE TABLE ledger (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    kind          text NOT NULL CHECK (kind IN ('accrual', 'redemption', 'accrual_reversal',
                                               'redemption_return', 'bonus', 'adjustment', 'expiry')),
    points        bigint NOT NULL,
    receipt_id    text,
    refund_id     text,
    reason        text,
    author        text,
    lot_id        bigint,                    -- the lot this entry created, if any
    created_at    timestamptz NOT NULL DEFAULT now(),
    available_at  timestamptz,
    expires_at    timestamptz
);
CREATE INDEX ledger_account_id ON ledger (account_id, id DESC);
CREATE INDEX ledger_receipt ON ledger (receipt_id) WHERE receipt_id IS NOT NULL;

CREATE TABLE lots (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    amount        bigint NOT NULL CHECK (amount > 0),
    remaining     bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    available_at  timestamptz NOT NULL,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lots_account_live ON lots (account_id) WHERE remaining > 0;
CREATE INDEX lots_expiring ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- Every change of a lot's remaining points (lot_id NULL: the account's debt), and the entry behind it.
-- entry_id NULL marks a debt settlement, whose moves sum to zero.
CREATE TABLE lot_moves (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    entry_id    bigint REFERENCES ledger (id),
    lot_id      bigint REFERENCES lots (id),
    points      bigint NOT NULL
);
CREATE INDEX lot_moves_account ON lot_moves (account_id);
CREATE INDEX lot_moves_entry ON lot_moves (entry_id);

-- Account snapshots in Redis are keyed by this generation; a worker that could not update Redis after
-- a write bumps it, so no snapshot from before an outage is ever served after it.
CREATE TABLE cache_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    generation  bigint NOT NULL
);
INSERT INTO cache_state (id, generation) VALUES (1, 0);

CREATE TABLE adjustments (
    account_id     bigint NOT NULL REFERENCES accounts (id),
    adjustment_id  text NOT NULL,
    fingerprint    bytea NOT NULL,
    result         json NOT NULL,
    PRIMARY KEY (account_id, adjustment_id)
);
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP TABLE cache_state, adjustments, lot_moves, lots, ledger, refunds, receipts, accounts, programs,"
        " api_keys CASCADE"
    )
