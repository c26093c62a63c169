"""The five panes: jobs, quotas, compute, endpoints, drift. Each shows one area of a Snapshot."""
