"""Reports for supervisors and directors: the queries (aggregated in the database), their SVG charts and exports."""
