-- Plain DuckDB baseline of bench/scale.py: days past due, overdue floors and the 2002 provision, per tier.
--
-- One query over the typed Parquet files of bench/portfolio.py (dates date32, money int64 cents).
-- Parameters (DuckDB named parameters, bound by bench/scale.py):
--   $loans, $schedules, $payments          Parquet file paths
--   $as_of                                 the month end, 'YYYY-MM-DD'
--   $floor_2_days … $floor_5_days          config/classification.yaml overdue_floors: a loan overdue MORE than
--                                          this many days is at least tier 2 (关注) … 5 (损失)
--   $rate_1 … $rate_5                      config/provisioning.yaml regulatory_2002 rates (× (1 + float)), as text
--
-- Days past due: the schedule in force is each contract's highest schedule_version; of its instalments due on
-- or before the month end, the oldest one not fully paid (principal or interest) by payments made on or before
-- the month end decides. The book: contracts started by the month end with outstanding principal.
-- Provision per loan: balance × the tier's rate, rounded half up to the cent (exact decimals).
WITH in_force AS (
    SELECT contract_id, max(schedule_version) AS schedule_version
    FROM read_parquet($schedules)
    GROUP BY contract_id
),
due AS (
    SELECT s.contract_id, s.schedule_version, s.instalment_no, s.due_date, s.principal_due, s.interest_due
    FROM read_parquet($schedules) AS s
    JOIN in_force USING (contract_id, schedule_version)
    WHERE s.due_date <= CAST($as_of AS DATE)
),
paid AS (
    SELECT contract_id, schedule_version, instalment_no,
           sum(principal_paid) AS principal_paid, sum(interest_paid) AS interest_paid
    FROM read_parquet($payments)
    WHERE paid_date <= CAST($as_of AS DATE)
    GROUP BY contract_id, schedule_version, instalment_no
),
unpaid AS (
    SELECT d.contract_id,
           min(d.due_date) AS oldest_unpaid_due,
           sum(greatest(d.principal_due - coalesce(p.principal_paid, 0), 0)) AS overdue_principal_cents
    FROM due AS d
    LEFT JOIN paid AS p USING (contract_id, schedule_version, instalment_no)
    WHERE coalesce(p.principal_paid, 0) < d.principal_due
       OR coalesce(p.interest_paid, 0) < d.interest_due
    GROUP BY d.contract_id
),
book AS (
    SELECT l.contract_id,
           l.outstanding_principal AS balance_cents,
           coalesce(date_diff('day', u.oldest_unpaid_due, CAST($as_of AS DATE)), 0) AS dpd,
           coalesce(u.overdue_principal_cents, 0) AS overdue_principal_cents
    FROM read_parquet($loans) AS l
    LEFT JOIN unpaid AS u USING (contract_id)
    WHERE l.start_date <= CAST($as_of AS DATE)
      AND l.outstanding_principal > 0
),
floored AS (
    SELECT *,
           CASE WHEN dpd > $floor_5_days THEN 5
                WHEN dpd > $floor_4_days THEN 4
                WHEN dpd > $floor_3_days THEN 3
                WHEN dpd > $floor_2_days THEN 2
                ELSE 1 END AS tier
    FROM book
),
rates (tier, rate) AS (
    VALUES (1, CAST($rate_1 AS DECIMAL(9, 6))), (2, CAST($rate_2 AS DECIMAL(9, 6))), (3, CAST($rate_3 AS DECIMAL(9, 6))),
           (4, CAST($rate_4 AS DECIMAL(9, 6))), (5, CAST($rate_5 AS DECIMAL(9, 6)))
)
SELECT f.tier,
       count(*) AS loans,
       sum(f.balance_cents) AS balance_cents,
       sum(f.overdue_principal_cents) AS overdue_principal_cents,
       sum(round(f.balance_cents * r.rate)) AS provision_2002_cents
FROM floored AS f
JOIN rates AS r USING (tier)
GROUP BY f.tier
ORDER BY f.tier
