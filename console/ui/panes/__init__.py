"""The five panes: jobs, quotas, endpoints, compute, drift. Each shows one area of a Snapshot.

Their names are defined here once, in the order the screen shows them (left to right, top to
bottom: jobs and quotas, then endpoints across the whole width, then compute and drift): each
pane is mounted with its name as its id, in this order, and its number here is its title's and
its key's (1-5), as k9s numbers its views. `ALIASES` are the other names `:` knows a pane by. (A
pane's `area` is the Snapshot area it shows: the compute pane shows "computes", the drift pane
"monitors".) Importing this package imports no pane: the first frame needs only the names.
"""

JOBS, QUOTAS, ENDPOINTS, COMPUTE, DRIFT = PANES = ("jobs", "quotas", "endpoints", "compute", "drift")
# What else an operator may type after `:` (k9s's command names, in Azure's words); a prefix of
# any of these, or of the pane's name, jumps to it.
ALIASES = {
    JOBS: ("job", "runs", "experiments"),
    QUOTAS: ("quota", "usage", "vcpus"),
    ENDPOINTS: ("endpoint", "ep", "online", "deployments", "traffic"),
    COMPUTE: ("computes", "clusters", "instances", "costs"),
    DRIFT: ("monitors", "monitoring"),
}


def number(name: str) -> int:
    """A pane's number: its key and the one in its title."""
    return PANES.index(name) + 1


def matching(text: str) -> list[str]:
    """The panes `text` names after `:`: its number, or a prefix of a pane's name, else of an
    alias (case ignored: `e` is endpoints, `ex` experiments, the jobs), in screen order; several
    when the prefix is ambiguous, none when nothing matches."""
    text = text.strip().lower()
    if not text:
        return []
    if text.isdigit():
        return [PANES[int(text) - 1]] if 1 <= int(text) <= len(PANES) else []
    by_name = [name for name in PANES if name.startswith(text)]
    return by_name or [name for name in PANES if any(word.startswith(text) for word in ALIASES[name])]
