-- One row per funnel step: (step number, patients remaining).
WITH idx AS (
  SELECT pseudonym, min(start_date) AS d
  FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'E11')
  GROUP BY pseudonym),
s1 AS (
  SELECT idx.* FROM idx JOIN persons p USING (pseudonym)
  WHERE age_on(p.birth_date, idx.d) BETWEEN 40 AND 75),
s2 AS (
  SELECT * FROM s1 WHERE EXISTS (
    SELECT 1 FROM events e
    WHERE e.pseudonym = s1.pseudonym
      AND e.domain = 'lab_result' AND e.system = 'npu' AND e.code = 'NPU27300'
      AND e.unit = 'mmol/mol' AND e.value >= 53
      AND (e.comparator IS NULL OR e.comparator IN ('>', '>='))
      AND e.start_date BETWEEN s1.d - 90 AND s1.d)),
s3 AS (
  SELECT * FROM s2 WHERE NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.pseudonym = s2.pseudonym
      AND e.domain = 'diagnosis' AND e.system = 'icd10se' AND starts_with(e.code, 'I50')
      AND e.start_date <= s2.d))
SELECT 0, (SELECT count(*) FROM idx)
UNION ALL SELECT 1, (SELECT count(*) FROM s1)
UNION ALL SELECT 2, (SELECT count(*) FROM s2)
UNION ALL SELECT 3, (SELECT count(*) FROM s3);
