-- Privacy budget charges and differencing-guard anchors, PostgreSQL.
-- Times are Unix milliseconds (UTC).

-- One row per charged query per user and budget period. An exact repeat
-- (same query key) in the same period is free: it finds its row.
CREATE TABLE budget_charges (
    user_id       TEXT NOT NULL,
    period_start  BIGINT NOT NULL,
    query_key     TEXT NOT NULL,
    cost          BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (user_id, period_start, query_key)
);

-- Released numbers the differencing guard remembers: the fingerprint of the
-- persons behind each (count, tag sum, sketch) and its noisy value. One
-- row per (scope, persons, sum); a later suppressed release sets suppressed.
CREATE TABLE guard_anchors (
    id          BIGSERIAL PRIMARY KEY,
    scope       TEXT NOT NULL,
    persons     BIGINT NOT NULL,
    tag_sum     BIGINT NOT NULL,
    print       BYTEA NOT NULL,
    value       BIGINT NOT NULL,
    suppressed  BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX guard_anchors_set ON guard_anchors(scope, persons, tag_sum);
CREATE INDEX guard_anchors_persons ON guard_anchors(persons);
