-- The verifiable audit log's entries, SQLite. The tree (tiles, signed
-- checkpoints) lives in files; here are the entries themselves and their
-- salts, access-controlled, one row per leaf index, never changed.

CREATE TABLE audit_entries (
    idx           BIGINT PRIMARY KEY,
    kind          TEXT NOT NULL,
    at_us         BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    subject       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    salt          BLOB NOT NULL,
    commitment    BLOB NOT NULL
);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: rows cannot be updated');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: rows cannot be deleted');
END;

CREATE INDEX audit_entries_subject ON audit_entries(kind, subject);

-- The next leaf index, taken under this row's lock in the transaction that
-- inserts the entry, so indexes are gapless whatever rolls back; and
-- whether the rows of the logs kept before the audit log existed (the
-- query log, case events) have been brought into it.
CREATE TABLE audit_head (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    next        BIGINT NOT NULL,
    backfilled  BIGINT NOT NULL
);
INSERT INTO audit_head (id, next, backfilled) VALUES (1, 0, 0);
