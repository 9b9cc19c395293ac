"""``VIEWS``: the report pages (the reports read the database on request: nothing to wire)."""

VIEWS = ("reports.views",)
