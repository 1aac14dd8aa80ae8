"""Post-loan monitoring from the lender's post-loan system logs: inspections (贷后检查) and collections (催收).

Both logs are optional inbox tables (core/YYYY-MM/inspections.csv, collections.csv): archived, validated
(config/validation.yaml) and passed on with the core extract when delivered.
"""

# Issue 14 items 4–9, also optional: the disposal register (处置台账), major events (重大事项), fund flows
# (资金流向), the register of leased assets and collateral (租赁物及押品台账) and warning dispositions (预警处置).
DISPOSAL_TABLES = ("disposals", "events", "fund_flows", "asset_register", "warning_dispositions")
# The collection cases' assignments (催收分案: collector, hardship), also optional (plugins/collections/cases.py).
MONITORING_TABLES = ("inspections", "collections", "collection_assignments", *DISPOSAL_TABLES)
