"""Collections run, not only reported (issue 14): a case per overdue episode (cases.py), penalty interest
(penalty.py) and the notices sent to borrowers (plugins/notices)."""
