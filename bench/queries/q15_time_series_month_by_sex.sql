-- New metformin users per month and sex (non-empty cells).
SELECT strftime(f.first, '%Y-%m') AS period, coalesce(p.sex, 'unknown') AS sex, count(*)
FROM (SELECT pseudonym, min(start_date) AS first FROM events
      WHERE domain = 'dispensed_drug' AND system = 'atc' AND code = 'A10BA02'
      GROUP BY pseudonym) f
JOIN persons p USING (pseudonym)
WHERE f.first BETWEEN DATE '2020-01-01' AND DATE '2024-12-31'
GROUP BY ALL;
