SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'diagnosis' AND system = 'icd10se' AND code = 'E119';
