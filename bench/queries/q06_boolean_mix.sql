SELECT count(*)
FROM persons p
WHERE p.sex = 'F'
  AND p.pseudonym IN (
    SELECT pseudonym FROM events
    WHERE (domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'E11'))
       OR (domain = 'dispensed_drug' AND system = 'atc' AND starts_with(code, 'A10')))
  AND p.pseudonym NOT IN (
    SELECT pseudonym FROM events
    WHERE domain = 'diagnosis' AND system = 'icd10se' AND starts_with(code, 'I10'));
