-- EvCharge ledger, PostgreSQL.
-- Append-only double-entry journal. A journal is identified by a caller-chosen key (derived from the session and
-- the step), which is what makes a retried posting a no-op. Lines carry the session id and the posting time
-- again so that per-session and per-account reads need no join.

CREATE TABLE IF NOT EXISTS ledger_journals (
    journal_key  text        NOT NULL,
    session_id   text        NOT NULL,
    kind         text        NOT NULL,
    reference    text        NULL,
    posted_at    timestamptz NOT NULL,
    CONSTRAINT pk_ledger_journals PRIMARY KEY (journal_key)
);

CREATE TABLE IF NOT EXISTS ledger_lines (
    journal_key  text        NOT NULL REFERENCES ledger_journals (journal_key),
    line_no      integer     NOT NULL,
    session_id   text        NOT NULL,
    account      text        NOT NULL CHECK (account <> ''),
    -- KRW in whole won; debit positive, credit negative. bigint, never numeric/float.
    amount       bigint      NOT NULL,
    posted_at    timestamptz NOT NULL,
    CONSTRAINT pk_ledger_lines PRIMARY KEY (journal_key, line_no)
);

-- "what happened to this session" and the invariant check's per-session aggregation
CREATE INDEX IF NOT EXISTS ix_ledger_journals_session ON ledger_journals (session_id, kind);
CREATE INDEX IF NOT EXISTS ix_ledger_lines_session ON ledger_lines (session_id);
-- statements per account (payee settlement, wallet history) over a time window
CREATE INDEX IF NOT EXISTS ix_ledger_lines_account ON ledger_lines (account, posted_at);

-- Append-only is enforced by the database, not just by convention: a correction is a new journal.
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$fn$;

CREATE OR REPLACE TRIGGER ledger_journals_append_only
    BEFORE UPDATE OR DELETE ON ledger_journals FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE OR REPLACE TRIGGER ledger_lines_append_only
    BEFORE UPDATE OR DELETE ON ledger_lines FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
