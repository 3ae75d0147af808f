-- 0.01 g/L is exactly 10 mg/L. "gt 10": a plain (or ">=x") result needs
-- x > 10; a ">x" result allows only values above x, so x >= 10 will do;
-- "<x" never satisfies a lower bound.
SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'lab_result'
  AND ((system = 'npu' AND code = 'NPU19748') OR (system = 'loinc' AND code = '1988-5'))
  AND unit = 'mg/L'
  AND (((comparator IS NULL OR comparator = '>=') AND value > 10)
    OR (comparator = '>' AND value >= 10));
