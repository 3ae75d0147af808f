-- A result written ">x" or ">=x" allows only values >= x; "<x" never
-- satisfies a lower bound.
SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'lab_result' AND system = 'npu' AND code = 'NPU27300'
  AND unit = 'mmol/mol' AND value >= 53
  AND (comparator IS NULL OR comparator IN ('>', '>='));
