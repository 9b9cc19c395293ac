"""Workflow: moderation of requests from chosen sources, quality-control re-checks, branching call scripts."""
