-- Asthma patients by region of residence on 2024-01-01 (the period that
-- covers the day; if several, the latest start, then the smallest region).
WITH cohort AS (
  SELECT DISTINCT pseudonym FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'J45')),
res AS (
  SELECT pseudonym, region FROM (
    SELECT pseudonym, region,
           row_number() OVER (PARTITION BY pseudonym ORDER BY from_date DESC, region) AS rn
    FROM residences
    WHERE from_date <= DATE '2024-01-01'
      AND (to_date IS NULL OR DATE '2024-01-01' < to_date))
  WHERE rn = 1)
SELECT coalesce(res.region, 'unknown'), count(*)
FROM cohort LEFT JOIN res USING (pseudonym)
GROUP BY ALL;
