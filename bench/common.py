"""Shared bits of the benchmarks: the --quick flag, percentiles, RSS, and the JSON last line."""

from __future__ import annotations

import argparse
import json
import math

import psutil


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in under a minute")
    return parser.parse_args()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / (1024 * 1024)


def emit(result: dict) -> None:
    """The last line a benchmark prints: one JSON object (ratio = value / peer_value, higher is better)."""
    if result.get("peer_value"):
        result["ratio"] = round(result["value"] / result["peer_value"], 3)
    print(json.dumps(result, ensure_ascii=False))
