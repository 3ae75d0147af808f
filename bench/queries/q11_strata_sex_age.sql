-- Hypertension by sex and age band (default bands 0-9 ... 90+) at the first
-- diagnosis.
WITH idx AS (
  SELECT pseudonym, min(start_date) AS d
  FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'I10')
  GROUP BY pseudonym)
SELECT coalesce(p.sex, 'unknown') AS sex,
       age_band10(age_on(p.birth_date, idx.d)) AS band,
       count(*)
FROM idx JOIN persons p USING (pseudonym)
GROUP BY ALL;
