"""The five panes: jobs, quotas, compute, endpoints, drift. Each shows one area of a Snapshot.

Their names are defined here once: each pane is mounted with its name as its id, and keys 1-5,
the jump list and the command palette go through them in this order. (A pane's `area` is the
Snapshot area it shows: the compute pane shows "computes", the drift pane "monitors".) Importing
this package imports no pane: the first frame needs only the names.
"""

JOBS, QUOTAS, COMPUTE, ENDPOINTS, DRIFT = PANES = ("jobs", "quotas", "compute", "endpoints", "drift")
