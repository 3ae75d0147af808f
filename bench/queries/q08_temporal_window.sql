WITH idx AS (
  SELECT pseudonym, min(start_date) AS d
  FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'E11')
  GROUP BY pseudonym)
SELECT count(*)
FROM idx
WHERE EXISTS (
  SELECT 1 FROM events e
  WHERE e.pseudonym = idx.pseudonym
    AND e.domain = 'dispensed_drug' AND e.system = 'atc' AND e.code = 'A10BA02'
    AND e.start_date BETWEEN idx.d AND idx.d + 90);
