"""Jobs in the local workspace, run for real: `plan` turns a job YAML into rows, `runner` starts
and reaps their processes, `service` is what the Workspace protocol calls."""

from console.local.jobs.plan import JobPlanner
from console.local.jobs.runner import JobRunner
from console.local.jobs.service import JobService

__all__ = ["JobPlanner", "JobRunner", "JobService"]
