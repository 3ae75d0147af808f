-- Stored in UCUM mL/min/{1.73_m2}; the query's spelling is the same unit.
-- "lt 60": a plain (or "<=x") result needs x < 60; a "<x" result allows
-- only values below x, so x <= 60 will do; ">x" never satisfies it.
SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'lab_result'
  AND ((system = 'npu' AND code = 'SWE05406')
    OR (system = 'loinc' AND code IN ('62238-1', '33914-3')))
  AND unit = 'mL/min/{1.73_m2}'
  AND (((comparator IS NULL OR comparator = '<=') AND value < 60)
    OR (comparator = '<' AND value <= 60));
