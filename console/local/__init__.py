"""The local workspace: a real single-machine Azure ML control plane (daemon + client)."""
