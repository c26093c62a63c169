"""`amlops lint` over Azure/azureml-examples' whole `cli/` tree, and over one 49,000-key file.

Budget (DESIGN.md): the 575 YAML files of azureml-examples `cli/` in under 10 s in one process
(aim 5 s). The tree comes from the azureml-examples mirror when this machine has one (its `cli/`
at the mirror's HEAD, written to a temporary folder); without it the script says so and lints
tests/fixtures/azureml-examples instead, which is not the budget's figure. Each run is a fresh
process, as `amlops lint` runs. Prints the whole run's median wall and CPU time, its start-up,
files per second once started, the slowest file, and the same for a generated 49,000-key mapping
(about 575 KB, like the issue's 577 KB file: a command job whose `tags` hold the keys, just under
the alias-expansion limit's 100,000 nodes).
Run: .venv/bin/python benchmarks/lint.py [--runs N] [--tree DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("AMLOPS_EXAMPLES_MIRROR", "/work/.mirror/Azure+azureml-examples/repo"))
FIXTURES = ROOT / "tests" / "fixtures" / "azureml-examples"
KEYS = 49_000

# Run in a fresh interpreter: start-up (console.lint and azure.ai.ml imported), then each file
# linted on its own and timed, then the whole tree in one call (its rules across files included).
CHILD = """
import json, sys, time
start = time.perf_counter()
from console import lint, specs
specs.import_azure_ml()
started = time.perf_counter()
files = lint.collect([sys.argv[1]])
each = []
for path in files:
    t = time.perf_counter()
    lint.lint([path])
    each.append((time.perf_counter() - t, str(path)))
print(json.dumps({"startup": started - start, "files": each}))
"""


def extract_mirror(into: Path) -> str | None:
    """Write the mirror's `cli/` (HEAD) under `into`; returns the commit, or None without a mirror.
    Blobs the mirror left out (large binaries) are written empty: lint never reads them."""
    if not (MIRROR / "HEAD").exists():
        return None
    git = ["git", "--git-dir", str(MIRROR)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    listing = subprocess.run([*git, "ls-tree", "-r", "HEAD", "cli"], capture_output=True, text=True, check=True)
    entries = [(meta.split(), path) for meta, path in (line.split("\t", 1) for line in listing.stdout.splitlines())]
    blobs = [(mode, sha, path) for (mode, kind, sha), path in entries if kind == "blob"]
    with subprocess.Popen([*git, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as cat:
        for mode, sha, path in blobs:
            cat.stdin.write(f"{sha}\n".encode())
            cat.stdin.flush()
            header = cat.stdout.readline().decode()
            target = into / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if header.rstrip().endswith("missing"):
                target.write_bytes(b"")
                continue
            body = cat.stdout.read(int(header.split()[2]))
            cat.stdout.read(1)
            if mode == "120000":
                try:
                    target.symlink_to(body.decode())
                except OSError:
                    pass
            else:
                target.write_bytes(body)
        cat.stdin.close()
    return commit


def many_keys(into: Path) -> Path:
    lines = ["$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
             "command: echo hello", "environment: azureml:churn-train-env:1", "compute: azureml:cpu-cluster",
             "tags:", *(f"  k{i:05d}: x" for i in range(KEYS - 5))]
    path = into / "many-keys.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def whole_run(target: Path) -> tuple[float, float]:
    """One `amlops lint` process over `target`: wall seconds and CPU seconds (user + system; on a
    shared machine the CPU figure moves less than the wall one)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "console.cli", "lint", "--json", str(target)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if "Traceback" in done.stderr or done.returncode not in (0, 1, 2):
        sys.exit(f"amlops lint crashed on {target}:\n{done.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def per_file(target: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(target)], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


def report(label: str, target: Path, runs: int, shown_from: Path) -> None:
    runs_ = [whole_run(target) for _ in range(runs)]
    times, cpu = [wall for wall, _ in runs_], [c for _, c in runs_]
    detail = per_file(target)
    each = detail["files"]
    linting = sum(t for t, _ in each)
    slowest, slowest_path = max(each) if each else (0.0, "-")
    print(f"{label}: {len(each)} files")
    print(f"  one process, median of {runs}: {statistics.median(times):6.2f} s wall, "
          f"{statistics.median(cpu):.2f} s CPU  (walls: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"  start-up (console.lint + azure.ai.ml imported): {detail['startup']:.2f} s;"
          f" then {len(each) / linting if linting else 0:.1f} files/s ({linting:.2f} s linting)")
    shown = os.path.relpath(slowest_path, shown_from) if slowest_path != "-" else slowest_path
    print(f"  slowest file: {slowest * 1000:.0f} ms  {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="lint this folder instead of the mirror's cli/")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amlops-lint-bench-") as tmp:
        work = Path(tmp)
        if args.tree:
            tree, label = args.tree, f"lint {args.tree}"
        else:
            commit = extract_mirror(work / "examples")
            if commit:
                tree, label = work / "examples" / "cli", f"lint azureml-examples cli/ @ {commit[:12]} (from {MIRROR})"
            else:
                print(f"no azureml-examples mirror at {MIRROR}: linting {FIXTURES.relative_to(ROOT)} instead "
                      "(a sample, not the budget's 575-file tree)")
                tree, label = FIXTURES, f"lint {FIXTURES.relative_to(ROOT)}"
        report(label + "  [budget: 575 files under 10 s in one process, aim 5 s]", tree, args.runs, tree)
        big = many_keys(work)
        report(f"lint one {KEYS:,}-key mapping ({big.stat().st_size // 1024} KB)", big, args.runs, work)


if __name__ == "__main__":
    main()
