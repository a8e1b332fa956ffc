-- EvCharge session store, PostgreSQL.
-- One row per session, rewritten by every durable step of the session (design §3: one small write per step, shared
-- with other sessions' steps in one commit). The row carries the session's state (body: its serialized record without
-- meter samples, version-checked), the columns operators filter on (the session list reads them; no separate
-- projection), and what other grains derive from sessions instead of storing it themselves: live (the session holds
-- its connector and its wallet), the transaction id, and when the sweeper must look at it next (due_at).
-- Meter samples are rows of their own, appended per step instead of rewriting a growing record.

CREATE TABLE IF NOT EXISTS sessions (
    session_id     text        NOT NULL,
    version        bigint      NOT NULL,
    state          text        NOT NULL,
    charger_id     text        NULL,
    connector_id   integer     NOT NULL,
    cpo_id         text        NULL,
    wallet_key     text        NULL,
    hold_amount    bigint      NOT NULL,
    energy_wh      bigint      NOT NULL,
    fee            bigint      NULL,
    captured       bigint      NOT NULL,
    refunded       bigint      NOT NULL,
    debt           bigint      NOT NULL,
    seamless       boolean     NOT NULL,
    fee_mismatch   boolean     NOT NULL,
    reason         text        NULL,
    created_at     timestamptz NOT NULL,
    started_at     timestamptz NULL,
    stopped_at     timestamptz NULL,
    updated_at     timestamptz NOT NULL,
    live           boolean     NOT NULL,
    transaction_id integer     NULL,
    presentation   text        NULL,
    due_at         timestamptz NULL,
    bucket         smallint    NOT NULL,
    body           bytea       NOT NULL,
    CONSTRAINT pk_sessions PRIMARY KEY (session_id)
) WITH (fillfactor = 70); -- room on each page for the next version of a row: steps that change no indexed column stay HOT

-- One open session per wallet: the wallet grain enforces it in memory, this index is the backstop.
CREATE UNIQUE INDEX IF NOT EXISTS ux_sessions_live_wallet ON sessions (wallet_key) WHERE live;
-- A charger grain rebuilds its connectors from its live sessions.
CREATE INDEX IF NOT EXISTS ix_sessions_live_charger ON sessions (charger_id) WHERE live;
-- The sweepers' scan.
CREATE INDEX IF NOT EXISTS ix_sessions_due ON sessions (due_at) WHERE due_at IS NOT NULL;
-- Operators' lists, keyset-paged on (created_at DESC, session_id DESC); a retried StopTransaction's lookup by charger.
CREATE INDEX IF NOT EXISTS ix_sessions_created ON sessions (created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_sessions_cpo ON sessions (cpo_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_sessions_charger ON sessions (charger_id, created_at DESC, session_id DESC);
CREATE INDEX IF NOT EXISTS ix_sessions_attention ON sessions (state, created_at DESC, session_id DESC) WHERE state IN ('NeedsAttention', 'Debt');
CREATE INDEX IF NOT EXISTS ix_sessions_wallet ON sessions (wallet_key, created_at DESC) WHERE wallet_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS session_meter (
    session_id  text        NOT NULL,
    ts          timestamptz NOT NULL,
    energy_wh   bigint      NOT NULL,
    CONSTRAINT pk_session_meter PRIMARY KEY (session_id, ts)
);

-- A group commit's guard. A batch of steps is one implicit transaction (one round trip, no BEGIN/COMMIT statements):
-- if its head upsert did not write every step's row (some step was not at the version after the stored one), this
-- raises and the whole batch rolls back; the store then writes the steps one by one, so only that step fails.
CREATE OR REPLACE FUNCTION evcharge_expect_rows(written bigint, expected bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$
BEGIN
    IF written <> expected THEN
        RAISE EXCEPTION 'session steps at an unexpected version: % of % written', written, expected USING ERRCODE = 'EV409';
    END IF;
    RETURN written;
END
$fn$;

-- The session list used to be a projection of its own; the session rows are the list now.
DROP TABLE IF EXISTS session_index;
