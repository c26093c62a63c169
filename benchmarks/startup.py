"""Import time of `console.cli` beside `textual.app` and `azure.ai.ml`, each in a fresh interpreter.

Budget (DESIGN.md): `import console.cli` and `amlops --help` pay for no heavy library.
Prints the median of N cold imports per module, and the `amlops --help` wall time.
Run: .venv/bin/python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

MODULES = ("console.cli", "textual.app", "azure.ai.ml")


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def help_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "console.cli", "--help"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"cold import, median of {args.runs} fresh interpreters")
    for module in MODULES:
        times = [import_seconds(module) for _ in range(args.runs)]
        print(f"  import {module:<14} {statistics.median(times) * 1000:8.1f} ms")
    times = [help_seconds() for _ in range(args.runs)]
    print(f"  amlops --help (process) {statistics.median(times) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
