-- halsohub state database, SQLite. Times are Unix milliseconds (UTC).
CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT,
    password_hash TEXT,
    oidc_subject  TEXT UNIQUE,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE memberships (
    user_id          TEXT NOT NULL REFERENCES users(id),
    organisation_id  TEXT NOT NULL REFERENCES organisations(id),
    role             TEXT NOT NULL,
    granted_at       BIGINT NOT NULL,
    PRIMARY KEY (user_id, organisation_id, role)
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE web_sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    session_hash  TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_seen_at  BIGINT
);

CREATE TABLE cases (
    case_id          TEXT PRIMARY KEY,
    organisation_id  TEXT NOT NULL REFERENCES organisations(id),
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    status           TEXT NOT NULL,
    projection       TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX cases_org ON cases(organisation_id);
CREATE INDEX cases_status ON cases(status);

CREATE TABLE case_events (
    case_id     TEXT NOT NULL REFERENCES cases(case_id),
    seq         BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT NOT NULL,
    response      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases(case_id),
    filename      TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    content       BLOB NOT NULL,
    uploaded_by   TEXT NOT NULL,
    uploaded_at   BIGINT NOT NULL
);
CREATE INDEX attachments_case ON attachments(case_id);

CREATE TABLE permits (
    permit_id    TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(case_id),
    valid_from   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    document     TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX permits_case ON permits(case_id);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key    TEXT NOT NULL UNIQUE,
    recipient     TEXT NOT NULL,
    case_id       TEXT,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    sent_at       BIGINT
);
