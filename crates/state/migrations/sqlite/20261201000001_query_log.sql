-- Feasibility query log (append-only) and query quota uses, SQLite.
-- Times are Unix milliseconds (UTC).

-- One row per feasibility query, answered or refused. Never updated or
-- deleted: the triggers below refuse both.
CREATE TABLE query_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            BIGINT NOT NULL,
    user_id       TEXT NOT NULL,
    token_id      TEXT,
    channel       TEXT NOT NULL,
    query_hash    TEXT,
    snapshot      TEXT,
    output_kind   TEXT,
    profile       TEXT,
    protections   TEXT NOT NULL,
    exact         BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    reason        TEXT
);
CREATE INDEX query_log_user_at ON query_log(user_id, at);
CREATE INDEX query_log_at ON query_log(at);

CREATE TRIGGER query_log_no_update BEFORE UPDATE ON query_log
BEGIN
    SELECT RAISE(ABORT, 'query_log is append-only: rows cannot be updated');
END;

CREATE TRIGGER query_log_no_delete BEFORE DELETE ON query_log
BEGIN
    SELECT RAISE(ABORT, 'query_log is append-only: rows cannot be deleted');
END;

-- Admitted queries per user, for sliding-window quotas. Rows older than a
-- week are pruned; this is bookkeeping, not the log.
CREATE TABLE quota_uses (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX quota_uses_user_at ON quota_uses(user_id, at);

-- One row per user, locked (updated) at the start of every admission so
-- concurrent admissions for one user are serialised on every backend.
CREATE TABLE quota_locks (
    user_id   TEXT PRIMARY KEY,
    admitted  BIGINT NOT NULL
);
