SELECT count(*) FROM (
  SELECT pseudonym
  FROM events
  WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'J45')
    AND setting = 'primary_care'
  GROUP BY pseudonym
  HAVING count(DISTINCT start_date) >= 3);
