-- Results are stored in umol/L; 0.072 mmol/L is exactly 72 umol/L, and a
-- result of 72 is on the boundary (included). A "<x" or "<=x" result
-- allows only values <= x; ">x" never satisfies an upper bound.
SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'lab_result'
  AND ((system = 'npu' AND code = 'NPU18016')
    OR (system = 'loinc' AND code IN ('2160-0', '14682-9')))
  AND unit = 'umol/L' AND value <= 72
  AND (comparator IS NULL OR comparator IN ('<', '<='));
