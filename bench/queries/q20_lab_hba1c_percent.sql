-- The documented rule for another dimension: convert, then round to the
-- analyte's reporting precision (0 decimals for mmol/mol):
-- 10.929 * (6.5 - 2.15) = 47.54115 -> 48 mmol/mol.
SELECT count(DISTINCT pseudonym)
FROM events
WHERE domain = 'lab_result'
  AND ((system = 'npu' AND code = 'NPU27300')
    OR (system = 'loinc' AND code IN ('4548-4', '59261-8', '17856-6')))
  AND unit = 'mmol/mol' AND value >= 48
  AND (comparator IS NULL OR comparator IN ('>', '>='));
