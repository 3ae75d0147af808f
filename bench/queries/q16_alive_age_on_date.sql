-- "Alive" = in the population register (some sex, birth or death date
-- recorded), born on or before the day and not dead on or before it.
SELECT count(*)
FROM persons p
WHERE (p.sex IS NOT NULL OR p.birth_date IS NOT NULL OR p.death_date IS NOT NULL)
  AND (p.birth_date IS NULL OR p.birth_date <= DATE '2025-01-01')
  AND (p.death_date IS NULL OR p.death_date > DATE '2025-01-01')
  AND age_on(p.birth_date, DATE '2025-01-01') >= 65
  AND p.pseudonym IN (
    SELECT pseudonym FROM events
    WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'I10')
      AND start_date BETWEEN DATE '2020-01-01' AND DATE '2024-12-31');
