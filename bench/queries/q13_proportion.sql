-- One row: numerator, denominator.
WITH den AS (
  SELECT DISTINCT pseudonym FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'E11')),
hi AS (
  SELECT DISTINCT pseudonym FROM events
  WHERE domain = 'lab_result' AND system = 'npu' AND code = 'NPU27300' AND unit = 'mmol/mol'
    AND ((comparator IS NULL AND value > 70) OR (comparator = '>' AND value >= 70)
         OR (comparator = '>=' AND value > 70)))
SELECT (SELECT count(*) FROM den JOIN hi USING (pseudonym)), (SELECT count(*) FROM den);
