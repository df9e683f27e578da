"""The benchmark behind `manage.py bench`: `scenarios` (what is measured, by whom),
`runners` (in process or over HTTP: latency and SQL queries per request) and `report`
(budget verdicts, text table, JSON and HTML).
"""
