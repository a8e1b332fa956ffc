-- EvCharge operators' session index, PostgreSQL.
-- A read model projected by the session grain on every state change; the grain and the ledger stay the truth.
-- Lists are keyset-paged on (created_at DESC, session_id DESC), so every filter has an index ending in those columns.

CREATE TABLE IF NOT EXISTS session_index (
    session_id    text        NOT NULL,
    state         text        NOT NULL,
    charger_id    text        NULL,
    connector_id  integer     NOT NULL,
    cpo_id        text        NULL,
    wallet_key    text        NULL,
    hold_amount   bigint      NOT NULL,
    energy_wh     bigint      NOT NULL,
    fee           bigint      NULL,
    captured      bigint      NOT NULL,
    refunded      bigint      NOT NULL,
    debt          bigint      NOT NULL,
    seamless      boolean     NOT NULL,
    fee_mismatch  boolean     NOT NULL,
    reason        text        NULL,
    created_at    timestamptz NOT NULL,
    started_at    timestamptz NULL,
    stopped_at    timestamptz NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT pk_session_index PRIMARY KEY (session_id)
);

CREATE INDEX IF NOT EXISTS ix_session_index_created ON session_index (created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_session_index_cpo ON session_index (cpo_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_session_index_charger ON session_index (charger_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_session_index_state ON session_index (state, created_at DESC, session_id DESC);
