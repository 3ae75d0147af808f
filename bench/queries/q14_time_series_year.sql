-- New statin users per year: the year of each patient's first ever
-- dispensing, when it falls in 2013-2025 (non-empty years).
SELECT strftime(first, '%Y') AS period, count(*)
FROM (SELECT pseudonym, min(start_date) AS first FROM events
      WHERE domain = 'dispensed_drug' AND system = 'atc' AND starts_with(code, 'C10AA')
      GROUP BY pseudonym)
WHERE first BETWEEN DATE '2013-01-01' AND DATE '2025-12-31'
GROUP BY ALL;
