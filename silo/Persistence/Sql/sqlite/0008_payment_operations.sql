-- EvCharge payment-operation journal, SQLite (same DDL text as PostgreSQL; see grains/Payments/PaymentOperationJournal.cs).
-- One row per money-moving provider call, keyed by provider name and our idempotency key. It is the idempotency
-- layer for providers that have none (KakaoPay), and the record of what each call meant where the provider's own
-- record cannot tell (a deposit captured in full leaves no trace at Toss or KakaoPay). Times are Unix microseconds.

CREATE TABLE IF NOT EXISTS payment_operations (
    provider          TEXT   NOT NULL,
    idempotency_key   TEXT   NOT NULL,
    operation         TEXT   NOT NULL,
    order_id          TEXT   NULL,
    authorization_id  TEXT   NULL,
    request_hash      TEXT   NOT NULL,
    state             TEXT   NOT NULL,
    response          TEXT   NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (provider, idempotency_key)
);

CREATE INDEX IF NOT EXISTS ix_payment_operations_order ON payment_operations (provider, order_id);
CREATE INDEX IF NOT EXISTS ix_payment_operations_authorization ON payment_operations (provider, authorization_id);
