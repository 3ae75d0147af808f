SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'dispensed_drug' AND system = 'atc' AND starts_with(code, 'C09');
