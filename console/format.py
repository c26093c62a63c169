"""One formatting of ages, durations and money for every surface: the CLI's tables and the
console's panes round the same way (90 s is "1m ago" on both). Pure: stdlib only.

- `ago`: "12s ago", "5m ago", "3h ago" (whole units, floored), then the local date.
- `span`: "42s", "1m05s", "2h03m", "3d04h"; `span_minutes` the same from whole minutes ("5m").
- `utc_time`: "2026-12-01 12:00:00 UTC", for `show` commands.
- `money`: "1,234.56"; `usd`: "$1,234.56"; None is "-" for all of them (unknown, not zero).
- `rollout_step`, `rollout_next`, `rollout_analysis`: where a rollout stands, for `rollout status`,
  the endpoints pane's line and the rollout view alike.
"""

from __future__ import annotations

from datetime import datetime, timezone

NONE = "-"


def aware(moment: datetime) -> datetime:
    """A naive time read as UTC (the daemon and Azure both speak UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def local_date(moment: datetime) -> str:
    return aware(moment).astimezone().date().isoformat()


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return NONE
    moment = aware(moment)
    seconds = ((now or datetime.now(timezone.utc)) - moment).total_seconds()
    if seconds < 60:
        return f"{max(int(seconds), 0)}s ago"  # a negative age is clock skew, not the future
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return local_date(moment)


def span(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def span_minutes(minutes: float | None) -> str:
    """An idle time, to the minute: "5m", "2h03m", "3d04h"."""
    if minutes is None:
        return NONE
    m = max(int(minutes), 0)
    if m < 60:
        return f"{m}m"
    if m < 1440:
        return f"{m // 60}h{m % 60:02d}m"
    return f"{m // 1440}d{m % 1440 // 60:02d}h"


def utc_time(moment: datetime | None) -> str | None:
    """A full timestamp for `show` commands: "2026-12-01 12:00:00 UTC"."""
    return aware(moment).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else None


def money(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}"


def usd(value: float | None) -> str:
    return NONE if value is None else f"${value:,.2f}"


# --- a rollout (a domain.Rollout, read by its attributes) ---------------------------------------


def rollout_step(r) -> str:
    """"step 2/4 (green 25 %)", or "mirror step"."""
    if r.step < 0:
        return "mirror step"
    return f"step {r.step + 1}/{len(r.weights)} ({r.candidate} {r.weight} %)"


def rollout_next(r, now: datetime) -> str:
    """When a progressing rollout moves on ("next in 1m05s"); "" when it does not progress."""
    if r.ended or r.phase != "Progressing":
        return ""
    if r.next_at is None:
        return "applying the step"
    left = (r.next_at - now).total_seconds()
    return f"next in {span(left)}" if left > 0 else "next once an analysis passes"


def rollout_analysis(r) -> str:
    a = r.last_analysis
    return f"{a['verdict']}: {a['reason']}" if a else "no analysis yet"
