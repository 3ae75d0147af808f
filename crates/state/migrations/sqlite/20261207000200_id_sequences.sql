-- Identifiers come from the database: one counter per kind of identifier
-- (`case`, `permit`), advanced atomically by `Db::next_id`. Serials are
-- global (not per year), as they were when they were counted.
CREATE TABLE id_sequences (
    name        TEXT PRIMARY KEY,
    last_value  BIGINT NOT NULL
);

-- Existing databases continue after today's highest number. Identifiers
-- are `HH-A-YYYY-NNNNNN` / `HH-P-YYYY-NNNNNN`: the serial starts at
-- character 11.
INSERT INTO id_sequences (name, last_value)
SELECT 'case', COALESCE(MAX(CAST(substr(case_id, 11) AS INTEGER)), 0) FROM cases;
INSERT INTO id_sequences (name, last_value)
SELECT 'permit', COALESCE(MAX(CAST(substr(permit_id, 11) AS INTEGER)), 0) FROM permits;
