WITH idx AS (
  SELECT pseudonym, min(start_date) AS d
  FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'E11')
  GROUP BY pseudonym)
SELECT count(*)
FROM idx JOIN persons p USING (pseudonym)
WHERE age_on(p.birth_date, idx.d) BETWEEN 40 AND 75
  AND NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.pseudonym = idx.pseudonym
      AND e.domain = 'dispensed_drug' AND e.system = 'atc' AND starts_with(e.code, 'A10A')
      AND e.start_date <= idx.d - 1);
