-- Citizens' opt-out register and the record of extracts, SQLite.
-- Times are Unix milliseconds (UTC). No identity number is ever stored:
-- persons are hub pseudonyms (32 hexadecimal digits).

-- One row per opt-out or withdrawal. Never updated or deleted (a
-- withdrawal is its own row): the triggers below refuse both.
CREATE TABLE optout_records (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pseudonym     TEXT NOT NULL,
    scope         TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('opt_out', 'withdrawal')),
    effective_at  BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    channel       TEXT NOT NULL,
    reference     TEXT NOT NULL,
    actor         TEXT NOT NULL
);
CREATE INDEX optout_records_pseudonym ON optout_records(pseudonym);

CREATE TRIGGER optout_records_no_update BEFORE UPDATE ON optout_records
BEGIN
    SELECT RAISE(ABORT, 'optout_records is append-only: rows cannot be updated');
END;

CREATE TRIGGER optout_records_no_delete BEFORE DELETE ON optout_records
BEGIN
    SELECT RAISE(ABORT, 'optout_records is append-only: rows cannot be deleted');
END;

-- One row per delivery file from the national e-service, by content hash,
-- so that the same file read twice records nothing twice.
CREATE TABLE optout_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256        TEXT NOT NULL UNIQUE,
    file_name     TEXT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    records       BIGINT NOT NULL,
    rejected      BIGINT NOT NULL
);

-- The lines of a delivery that were not recorded, with the reason code
-- (never the line's content).
CREATE TABLE optout_rejections (
    delivery_id   BIGINT NOT NULL REFERENCES optout_deliveries(id),
    line          BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    PRIMARY KEY (delivery_id, line)
);

-- One row per extract made for a permit (or a project): when, under which
-- frozen register instant, and the hub pseudonyms of the persons it held
-- (sorted, 16 bytes each), so a citizen can be told which permits used
-- their data.
CREATE TABLE extracts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    permit_id     TEXT,
    project       TEXT NOT NULL,
    purpose       TEXT,
    snapshot      TEXT NOT NULL,
    frozen_at     BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    persons       BIGINT NOT NULL,
    members       BLOB NOT NULL
);
CREATE INDEX extracts_permit ON extracts(permit_id);
