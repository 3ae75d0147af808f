-- The results are stored in umol/L; 0.1505 mmol/L = 150.5 umol/L.
SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'lab_result' AND system = 'npu' AND code = 'NPU18016'
  AND ((unit = 'umol/L' AND value > 150.5) OR (unit = 'mmol/L' AND value > 0.1505))
  AND (comparator IS NULL OR comparator IN ('>', '>='));
