"""Shared bits of the benchmarks: the --quick flag, percentiles, RSS, the JSON last line, a free port, the hub
as its own process, and a crowd of WebSockets held open for a while."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hub(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``main.py run`` as its own process, its log (stderr) in ``log_path``."""
    with log_path.open("w") as log_file:
        return subprocess.Popen([sys.executable, "main.py", "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=log_file)


async def hold_open(sockets: list[Coroutine[Any, Any, None]], ready: Callable[[], int], seconds: float) -> None:
    """Run one coroutine per socket; once all are connected (``ready()``) say "ready" on stdout (the parent
    process starts the load then), keep them open ``seconds``, then close them all."""
    tasks = [asyncio.create_task(one) for one in sockets]
    async with asyncio.timeout(60):
        while ready() < len(tasks):  # noqa: ASYNC110 - the sockets' own tasks count themselves in
            for task in tasks:
                if task.done():
                    task.result()  # a socket that failed to connect fails the benchmark, with its reason
            await asyncio.sleep(0.05)
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


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
