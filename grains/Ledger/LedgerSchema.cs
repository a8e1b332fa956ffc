namespace EvCharge.Ledger;

/// <summary>
/// The ledger's DDL. It lives here, next to the stores, so a ledger can create its own tables when it is used
/// without the silo (tests, tools). The silo's migration <c>0005_ledger.sql</c> carries the same text byte for byte
/// (a test compares them), so a database created either way ends up identical. Every statement is idempotent
/// (IF NOT EXISTS / OR REPLACE) because the same DDL may run twice: once from <c>EnsureSchemaAsync</c> and once
/// from the migrator.
/// </summary>
public static class LedgerSchema
{
    /// <summary>
    /// Key of the PostgreSQL transaction-level advisory lock that serialises schema changes. The silo's
    /// migrator takes the same lock, so concurrent silos and ledgers never race on CREATE TABLE.
    /// </summary>
    public const long PostgresSchemaLockKey = 0x45764368_61726765; // "EvCharge"

    public const string Postgres = """
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
""";

    public const string Sqlite = """
-- EvCharge ledger, SQLite.
-- Same shape as the PostgreSQL ledger. posted_at is Unix time in milliseconds (UTC) so that it sorts and
-- compares as a number; SQLite has no timestamp type.

CREATE TABLE IF NOT EXISTS ledger_journals (
    journal_key  TEXT    NOT NULL PRIMARY KEY,
    session_id   TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    reference    TEXT    NULL,
    posted_at    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger_lines (
    journal_key  TEXT    NOT NULL REFERENCES ledger_journals (journal_key),
    line_no      INTEGER NOT NULL,
    session_id   TEXT    NOT NULL,
    account      TEXT    NOT NULL CHECK (account <> ''),
    -- KRW in whole won; debit positive, credit negative. INTEGER is a 64-bit integer in SQLite.
    amount       INTEGER NOT NULL,
    posted_at    INTEGER NOT NULL,
    PRIMARY KEY (journal_key, line_no)
);

CREATE INDEX IF NOT EXISTS ix_ledger_journals_session ON ledger_journals (session_id, kind);
CREATE INDEX IF NOT EXISTS ix_ledger_lines_session ON ledger_lines (session_id);
CREATE INDEX IF NOT EXISTS ix_ledger_lines_account ON ledger_lines (account, posted_at);

-- Append-only is enforced by the database: a correction is a new journal.
CREATE TRIGGER IF NOT EXISTS ledger_journals_no_update BEFORE UPDATE ON ledger_journals
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_journals_no_delete BEFORE DELETE ON ledger_journals
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_lines_no_update BEFORE UPDATE ON ledger_lines
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_lines_no_delete BEFORE DELETE ON ledger_lines
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
""";
}
