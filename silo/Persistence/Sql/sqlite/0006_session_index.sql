-- EvCharge operators' session index, SQLite.
-- Same shape as the PostgreSQL index. Times are Unix microseconds (UTC) so they sort and compare as numbers and
-- keep the precision PostgreSQL's timestamptz has (keyset cursors carry the stored value).

CREATE TABLE IF NOT EXISTS session_index (
    session_id    TEXT    NOT NULL PRIMARY KEY,
    state         TEXT    NOT NULL,
    charger_id    TEXT    NULL,
    connector_id  INTEGER NOT NULL,
    cpo_id        TEXT    NULL,
    wallet_key    TEXT    NULL,
    hold_amount   INTEGER NOT NULL,
    energy_wh     INTEGER NOT NULL,
    fee           INTEGER NULL,
    captured      INTEGER NOT NULL,
    refunded      INTEGER NOT NULL,
    debt          INTEGER NOT NULL,
    seamless      INTEGER NOT NULL,
    fee_mismatch  INTEGER NOT NULL,
    reason        TEXT    NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER NULL,
    stopped_at    INTEGER NULL,
    updated_at    INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_session_index_created ON session_index (created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_session_index_cpo ON session_index (cpo_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_session_index_charger ON session_index (charger_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_session_index_state ON session_index (state, created_at DESC, session_id DESC);
