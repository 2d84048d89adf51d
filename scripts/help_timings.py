"""How long `millgate --help` and each sub-command's `--help` take, in fresh processes.

    .venv/bin/python -m scripts.help_timings [--runs 5]

Each command runs ``--runs`` times as ``python -m cli.main ... --help``; prints the median
and the slowest run in milliseconds (wall clock), and the median CPU time (user + system:
what the command costs when other processes share the cores). Exits 1 when a median wall
time passes --budget (1 s).
A figure, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

COMMANDS: list[list[str]] = [
    [],
    ["serve"],
    ["schema"],
    ["bootstrap"],
    ["db"],
    ["db", "upgrade"],
    ["demo", "seed"],
    ["token", "issue"],
    ["audit", "verify"],
    ["audit", "checkpoint"],
    ["catalogue", "load"],
    ["keys", "generate"],
    ["keys", "rotate-field-key"],
    ["exports"],
    ["exports", "run"],
    ["exports", "worker"],
]


def time_help(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) milliseconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "cli.main", *args, "--help"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        cpu.append(used * 1000)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1000.0, help="Milliseconds.")
    options = parser.parse_args()
    slow = 0
    print(f"{'command':<32} {'median ms':>10} {'max ms':>10} {'cpu ms':>10}")
    for args in COMMANDS:
        wall, cpu = time_help(args, options.runs)
        median = statistics.median(wall)
        slow += median > options.budget
        name = " ".join(["millgate", *args, "--help"])
        print(f"{name:<32} {median:>10.0f} {max(wall):>10.0f} {statistics.median(cpu):>10.0f}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
