"""Processes the daemon starts and may have to adopt after a restart.

A pid alone can be reused by the kernel; a pid with its start time names one process. Zombies
count as dead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    current = start_time(pid)
    if current is None:
        return False
    # A zombie is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return False
    except OSError:
        return False
    return start is None or current == start


def terminate(pid: int, start: str | None, timeout_s: float) -> bool:
    """SIGTERM one process and wait until it is gone; False if it still runs after `timeout_s`."""
    import signal
    import time

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while alive(pid, start):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies count as gone)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_group(pid: int | None, start: str | None, timeout_s: float = 10.0, proc=None) -> bool:
    """SIGTERM a process group whose leader is (pid, start), wait until every member is gone,
    SIGKILL what is left after `timeout_s`. `proc` (a Popen of ours) is reaped, so no zombie stays.
    False when the group was not running; a leader that is gone but left members is still ended."""
    import signal
    import time

    if not pid:
        return False
    current = start_time(pid)
    if current is not None and start is not None and current != start:
        return False  # the pid was reused by another process: neither it nor its group is ours
    # Linux never hands out a pid still in use as a group id, so members left behind by a dead
    # leader are ours.
    if not alive(pid, start) and not group_alive(pid):
        if proc is not None:
            proc.poll()
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None:
            proc.poll()
        if not group_alive(pid):
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while group_alive(pid):
        if proc is not None:
            proc.poll()
        time.sleep(0.02)
    return True


def signal_group(pid: int | None, start: str | None, sig: int) -> None:
    if pid and alive(pid, start):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def folder_processes(root: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process that belongs to the workspace folder `root`:
    its working directory is inside the folder, or its command line names it (the daemon, jobs,
    routers, scoring servers and their children, the demo load). Zombies are left out."""
    root = root.resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                cwd = ""
        except OSError:
            continue
        if str(root) in cmdline or cwd == str(root) or cwd.startswith(f"{root}/"):
            found.append((int(entry.name), cmdline))
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out for outgoing connections (and for bind to port 0)."""
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def service_port(taken: set[int] | frozenset[int] = frozenset(), host: str = "127.0.0.1") -> int:
    """A port to keep for a server for as long as it exists: outside the ephemeral range, so no
    outgoing connection can hold it while the server restarts, free now, and not in `taken` (the
    ports the workspace already keeps for servers that may be down at this moment)."""
    import random

    low, high = ephemeral_range()
    # The wider side of the range, away from the well-known ports below 10000.
    below, above = (max(10000, low - 20000), low - 1), (high + 1, 65535)
    start, end = below if below[1] - below[0] >= above[1] - above[0] else above
    candidates = random.sample(range(start, end + 1), min(200, end - start + 1))
    for port in candidates:
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError(f"no free port between {start} and {end}")
