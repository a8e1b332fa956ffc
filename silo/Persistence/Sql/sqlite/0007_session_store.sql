-- EvCharge session store, SQLite.
-- Same shape as the PostgreSQL store (see its script for why each column is there). Times are Unix microseconds (UTC)
-- so they sort and compare as numbers and keep the precision PostgreSQL's timestamptz has.

CREATE TABLE IF NOT EXISTS sessions (
    session_id     TEXT    NOT NULL PRIMARY KEY,
    version        INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    charger_id     TEXT    NULL,
    connector_id   INTEGER NOT NULL,
    cpo_id         TEXT    NULL,
    wallet_key     TEXT    NULL,
    hold_amount    INTEGER NOT NULL,
    energy_wh      INTEGER NOT NULL,
    fee            INTEGER NULL,
    captured       INTEGER NOT NULL,
    refunded       INTEGER NOT NULL,
    debt           INTEGER NOT NULL,
    seamless       INTEGER NOT NULL,
    fee_mismatch   INTEGER NOT NULL,
    reason         TEXT    NULL,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER NULL,
    stopped_at     INTEGER NULL,
    updated_at     INTEGER NOT NULL,
    live           INTEGER NOT NULL,
    transaction_id INTEGER NULL,
    presentation   TEXT    NULL,
    due_at         INTEGER NULL,
    bucket         INTEGER NOT NULL,
    body           BLOB    NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS ux_sessions_live_wallet ON sessions (wallet_key) WHERE live = 1;
CREATE INDEX IF NOT EXISTS ix_sessions_live_charger ON sessions (charger_id) WHERE live = 1;
CREATE INDEX IF NOT EXISTS ix_sessions_due ON sessions (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_sessions_created ON sessions (created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_sessions_cpo ON sessions (cpo_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_sessions_charger ON sessions (charger_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_sessions_attention ON sessions (state, created_at DESC, session_id DESC) WHERE state IN ('NeedsAttention', 'Debt');
CREATE INDEX IF NOT EXISTS ix_sessions_wallet ON sessions (wallet_key, created_at DESC) WHERE wallet_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS session_meter (
    session_id  TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    energy_wh   INTEGER NOT NULL,
    PRIMARY KEY (session_id, ts)
) WITHOUT ROWID;

DROP TABLE IF EXISTS session_index;
