-- The verifiable audit log's entries, PostgreSQL. The tree (tiles, signed
-- checkpoints) lives in files; here are the entries themselves and their
-- salts, access-controlled, one row per leaf index, never changed.

CREATE TABLE audit_entries (
    idx           BIGINT PRIMARY KEY,
    kind          TEXT NOT NULL,
    at_us         BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    subject       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    salt          BYTEA NOT NULL,
    commitment    BYTEA NOT NULL
);

CREATE FUNCTION audit_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER audit_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

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
