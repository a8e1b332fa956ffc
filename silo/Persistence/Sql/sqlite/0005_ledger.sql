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
