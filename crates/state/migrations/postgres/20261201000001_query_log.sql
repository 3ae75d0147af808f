-- Feasibility query log (append-only) and query quota uses, PostgreSQL.
-- Times are Unix milliseconds (UTC).

-- One row per feasibility query, answered or refused. Never updated,
-- deleted or truncated: the triggers below refuse all three.
CREATE TABLE query_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE FUNCTION query_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'query_log is append-only: % is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER query_log_no_update_delete BEFORE UPDATE OR DELETE ON query_log
    FOR EACH ROW EXECUTE FUNCTION query_log_append_only();
CREATE TRIGGER query_log_no_truncate BEFORE TRUNCATE ON query_log
    FOR EACH STATEMENT EXECUTE FUNCTION query_log_append_only();

-- Admitted queries per user, for sliding-window quotas. Rows older than a
-- week are pruned; this is bookkeeping, not the log.
CREATE TABLE quota_uses (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
