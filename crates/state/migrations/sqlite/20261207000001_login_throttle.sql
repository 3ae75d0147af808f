-- The log-in throttle, shared by every server process on this database.
-- Times are Unix milliseconds (UTC).

-- Password log-in attempts per username that have not (yet) succeeded,
-- recorded before the password is checked; cleared on success, pruned
-- once older than the throttle window.
CREATE TABLE login_attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    username  TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX login_attempts_username_at ON login_attempts(username, at);
CREATE INDEX login_attempts_at ON login_attempts(at);

-- A fixed set of lock rows (one per hash bucket of the username), locked
-- at the start of every attempt so concurrent attempts for one username
-- are counted one after the other on every backend.
CREATE TABLE login_locks (
    bucket    BIGINT PRIMARY KEY,
    attempts  BIGINT NOT NULL
);
