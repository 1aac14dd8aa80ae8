"""Post-loan monitoring from the lender's post-loan system logs: inspections (贷后检查) and collections (催收).

Both logs are optional inbox tables (core/YYYY-MM/inspections.csv, collections.csv): archived, validated
(config/validation.yaml) and passed on with the core extract when delivered.
"""

MONITORING_TABLES = ("inspections", "collections")
