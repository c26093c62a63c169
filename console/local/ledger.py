"""The capacity ledger of the local workspace: who holds what right now.

Nodes busy with jobs per cluster, and vCPUs held per quota family (cluster nodes, running
instances, online deployments' reservations of ceil(1.2 x instances), as Azure reserves for
upgrades). Quota checks go through here, so compute, jobs and endpoints all see one account and
none of them has to ask another. Reads the store only; it changes nothing.
"""

from __future__ import annotations

from console import costs
from console.domain import Compute
from console.local.folder import WorkspaceFolder
from console.local.store import Store

# The statuses in which a command job holds its nodes.
ACTIVE = ("Starting", "Running", "CancelRequested")
DEFAULT_SCALE_DOWN_S = 120  # Azure's default idle_time_before_scale_down

Holder = tuple[str, str, int, str]  # (family, who, vCPUs, how to free them)


class Ledger:
    def __init__(self, store: Store, folder: WorkspaceFolder) -> None:
        self.store = store
        self.folder = folder

    def busy_nodes(self) -> dict[str, int]:
        """Nodes each compute's active jobs hold."""
        rows = self.store.rows(
            "SELECT compute, SUM(nodes) AS n FROM jobs WHERE status IN (?, ?, ?) AND job_type = 'command' "
            "AND compute IS NOT NULL GROUP BY compute", ACTIVE)
        return {r["compute"]: r["n"] for r in rows}

    def reservations(self) -> list[tuple[str, str, int]]:
        """(family, "endpoint/deployment", vCPUs) each online deployment holds."""
        held = []
        for dep in self.store.rows("SELECT endpoint, name, instance_type, instance_count FROM deployments "
                                   "WHERE provisioning_state != 'Deleting' ORDER BY endpoint, name"):
            size = costs.size(dep["instance_type"])
            if size:
                need = costs.vcpus_needed(size.name, dep["instance_count"], costs.online_reserve(size.name))
                held.append((size.family, f"{dep['endpoint']}/{dep['name']}", need))
        return held

    def holders(self) -> list[Holder]:
        """Who holds quota now: cluster nodes, running instances, online deployments."""
        held = []
        for row in self.store.rows("SELECT name, type, size, state, current_nodes, idle_time_before_scale_down_s "
                                   "FROM computes ORDER BY name"):
            size = costs.size(row["size"])
            if size is None:
                continue
            # What holds quota is what bills: a cluster's current nodes, an instance's VM while billed.
            compute = Compute(row["name"], row["type"], row["size"], row["state"], current_nodes=row["current_nodes"])
            nodes = costs.billed_nodes(compute) or 0
            if compute.is_instance:
                free = f"amlops compute stop {row['name']}"
            else:
                free = f"scales down after {row['idle_time_before_scale_down_s'] or DEFAULT_SCALE_DOWN_S} idle s"
            if nodes:
                held.append((size.family, row["name"], nodes * size.vcpus, free))
        for family, target, vcpus in self.reservations():
            endpoint, deployment = target.split("/", 1)
            held.append((family, target, vcpus, f"amlops deployment delete {endpoint} {deployment}"))
        return held

    def used_by_family(self) -> dict[str, int]:
        used: dict[str, int] = {}
        for family, _who, vcpus, _free in self.holders():
            used[family] = used.get(family, 0) + vcpus
        return used

    def limits(self) -> dict[str, int]:
        """Azure's new-subscription defaults with the folder's config.json overrides."""
        return costs.quota_limits(self.folder.config.get("quotas"))

    def check_quota(self, size_name: str, nodes: int, *, reserve: float = 1.0, held: bool = True) -> int:
        """`costs.check_quota` against this workspace: its limits, what is held now (unless `held`
        is False: a job that could never fit), and a refusal that names the config file to edit by
        its full path and what holds the family's vCPUs. Returns the vCPUs the nodes take."""
        holders = self.holders() if held else []
        used: dict[str, int] = {}
        for family, _who, vcpus, _free in holders:
            used[family] = used.get(family, 0) + vcpus

        def advice(family: str) -> str:
            text = costs.how_to_raise(family, str(self.folder.config_file))
            mine = [h for h in holders if costs.family_key(h[0]) == costs.family_key(family)]
            if mine:
                text += " Or free some: " + "; ".join(f"{who} holds {vcpus} ({free})" for _f, who, vcpus, free in mine) + "."
            return text

        return costs.check_quota(size_name, nodes, used, self.limits(), reserve, advice=advice)
