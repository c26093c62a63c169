"""How the CLI prints: aligned plain-text tables for people, JSON for machines.

Plain text on purpose: a list of 10,000 jobs must print fast over SSH, and the tables are
meant for `grep` and `awk` as much as for eyes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from console.format import ago

Column = tuple[str, Callable[[Any], Any]]


def emit_json(value: Any) -> None:
    # Indented for a person at a terminal; compact for pipes, where ten thousand jobs must be quick.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(_plain(value), indent=indent, default=str) + "\n")


def _plain(value: Any) -> Any:
    from console.domain import Record

    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def table(rows: Iterable[Any], columns: Sequence[Column], *, empty: str = "nothing to show") -> None:
    cells = [[_cell(get(row)) for _, get in columns] for row in rows]
    if not cells:
        print(empty, file=sys.stderr)
        return
    headers = [h for h, _ in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    sys.stdout.write("\n".join(lines) + "\n")


def details(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        print(f"{key.ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return ago(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def settled(ws, op, no_wait: bool, timeout_s: float = 600.0):
    """The operation once it ended (or `timeout_s` passed); with `no_wait`, as it is now, and
    the command that follows it up on stderr. Every long-running write goes through here."""
    if no_wait or op.done:
        if not op.done:
            print(f"operation {op.id}: {op.status}; `amlops operation show {op.id} --wait 600` follows it",
                  file=sys.stderr)
        return op
    return ws.operations.wait(op.id, timeout_s=timeout_s)


def add_no_wait(parser) -> None:
    parser.add_argument("--no-wait", action="store_true",
                        help="return once the change is accepted; `amlops operation show ID` follows it")


def confirm(question: str, args: Any) -> bool:
    """Ask before a destructive command: yes only for y (or --yes); no terminal, no."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print(f"amlops: {question} refused without --yes (no terminal to ask on)", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
