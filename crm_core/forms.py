"""Small helpers for the pydantic models behind the workspace's forms."""

from __future__ import annotations


def blank_to_none(value: object) -> object:
    """An empty or whitespace-only form field means "not given"."""
    return None if isinstance(value, str) and not value.strip() else value
