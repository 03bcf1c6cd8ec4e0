"""`make bench-quick`: the benchmark harness runs end to end and prints its table.

Figures are not checked (docs/performance.md: the bench reports, it never passes or
fails); this only keeps the harness from rotting between the runs that matter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import services

ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_benchmark_runs_every_case_and_prints_one_table() -> None:
    postgres = services.POSTGRES_URL
    redis = services.redis_url()
    services.drop_postgres_database(services.create_postgres_database())  # reachable?
    finished = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "suite.py"),
            "--quick",
            "--postgres",
            postgres,
            "--redis",
            redis,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    rows = [line for line in finished.stdout.splitlines() if line.startswith("| ")]
    cases = [row.split("|")[1].split()[0] for row in rows[1:]]
    assert cases == ["b", "c", "fan-out", "idle", "resume"], finished.stdout
