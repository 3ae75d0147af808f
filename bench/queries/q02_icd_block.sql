SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'diagnosis' AND system = 'icd10se'
  AND length(code) >= 3 AND substr(code, 1, 3) BETWEEN 'E10' AND 'E14';
