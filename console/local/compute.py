"""Compute in the local workspace: clusters, instances, their quota and their bill.

A cluster runs at most max_instances nodes; its node count rises when a job starts and falls back
to min_instances after idle_time_before_scale_down. A compute instance has Azure's states
(Running, JobRunning, Stopping, Stopped, Starting) and a last operation with its trigger; the
scheduler stops it after idle_time_before_shutdown_minutes without activity (trigger
IdleShutdown). Nodes accrue cost by VM size, per UTC day, split into busy and idle time.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console import costs
from console.domain import Compute, ComputeOperation, QuotaUsage, VmSize
from console.errors import BadInput, InvalidField, NotFound
from console.local.ledger import DEFAULT_SCALE_DOWN_S, Ledger
from console.local.rpc import SCHEDULER
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.rpc import Request


class ComputeService:
    def __init__(self, ctx: Context, ledger: Ledger) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.ledger = ledger
        self._last_accrual: datetime | None = None

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "get": (self.get, False), "start": (self.start, True),
                "stop": (self.stop, True), "sizes": (self.sizes, False), "usage": (self.usage, False),
                "create": (self.create, True), "costs": (self.costs_today, False)}

    # --- reads -------------------------------------------------------------------------------

    def list(self, req: Request) -> list[dict[str, Any]]:
        return [self._record(row).to_dict() for row in self.store.rows("SELECT * FROM computes ORDER BY name")]

    def get(self, req: Request, name: str) -> dict[str, Any]:
        return self._record(self._row(name)).to_dict()

    def sizes(self, req: Request) -> list[dict[str, Any]]:
        return [s.to_dict() for s in costs.catalog().values()]

    def usage(self, req: Request) -> list[dict[str, Any]]:
        used, limits = self.ledger.used_by_family(), self.ledger.limits()
        families = sorted(set(limits) | set(used), key=str.lower)
        return [QuotaUsage(f, used.get(f, 0), limits.get(f, 0), location="local").to_dict() for f in families]

    def costs_today(self, req: Request) -> list[dict[str, Any]]:
        day = self.ctx.clock.now().date().isoformat()
        return self.store.rows("SELECT * FROM compute_usage WHERE day = ? ORDER BY compute", (day,))

    # --- writes ------------------------------------------------------------------------------

    def create(self, req: Request, spec: dict[str, Any], spec_path: str) -> dict[str, Any]:
        """Create a compute from its loaded spec (called by the asset service's `create -f`)."""
        name, ctype = check_name("compute", spec.get("name")), str(spec.get("type", "")).lower()
        if ctype not in ("amlcompute", "computeinstance"):
            raise InvalidField("type", f"the local workspace runs amlcompute and computeinstance, not {ctype!r}")
        size = self._size(spec.get("size") or "Standard_DS3_v2")
        existing = self.store.row("SELECT * FROM computes WHERE name = ?", (name,))
        now = self.ctx.clock.now().isoformat()
        if ctype == "amlcompute":
            min_i, max_i = int(spec.get("min_instances", 0)), int(spec.get("max_instances", 1))
            if not 0 <= min_i <= max_i:
                raise InvalidField("min_instances", f"must be between 0 and max_instances ({max_i})")
            values = {"type": ctype, "size": size.name, "state": "Steady", "min_instances": min_i,
                      "max_instances": max_i,
                      "idle_time_before_scale_down_s": int(spec.get("idle_time_before_scale_down") or DEFAULT_SCALE_DOWN_S)}
            extra = max(min_i - (existing or {}).get("current_nodes", 0), 0)
            self.ledger.check_quota(size.name, extra)
            values["current_nodes"] = max(min_i, (existing or {}).get("current_nodes", 0))
        else:
            if existing:
                raise BadInput(f"compute instance '{name}' already exists; delete it first to change it")
            self.ledger.check_quota(size.name, 1)
            idle = spec.get("idle_time_before_shutdown_minutes")
            values = {"type": ctype, "size": size.name, "state": "Running", "min_instances": 1,
                      "max_instances": 1, "current_nodes": 1,
                      "idle_time_before_shutdown_minutes": int(idle) if idle else None,
                      "last_operation": ComputeOperation("Create", "User", "Succeeded", self.ctx.clock.now()).to_dict()}
        values.update(spec=spec, last_activity=now)
        with self.store.transaction():
            before = self._record(existing).to_dict() if existing else None
            if existing:
                self.store.update("computes", {"name": name}, values)
            else:
                self.store.insert("computes", {"name": name, "created_at": now, **values})
            after = self.get(req, name)
            self.ctx.audit(req, "compute.create", name, before=before, after=after, detail=spec_path)
        return after

    def start(self, req: Request, name: str) -> dict[str, Any]:
        row = self._instance(name)
        if row["state"] in ("Running", "JobRunning", "Starting"):
            return self.ctx.new_operation("compute.start", name, "Succeeded")
        self.ledger.check_quota(self._size(row["size"]).name, 1)
        return self._transition(req, row, "Start", "Starting", "User")

    def stop(self, req: Request, name: str) -> dict[str, Any]:
        row = self._instance(name)
        if row["state"] in ("Stopped", "Stopping"):
            return self.ctx.new_operation("compute.stop", name, "Succeeded")
        return self._transition(req, row, "Stop", "Stopping", "User")

    def _transition(self, req: Request | None, row: dict[str, Any], verb: str, state: str,
                    trigger: str) -> dict[str, Any]:
        name = row["name"]
        now = self.ctx.clock.now()
        with self.store.transaction():
            op = self.ctx.new_operation(f"compute.{verb.lower()}", name)
            last_op = ComputeOperation(verb, trigger, "InProgress", now).to_dict()
            last_op["operation_id"] = op["id"]
            self.store.update("computes", {"name": name}, {"state": state, "last_operation": last_op})
            if req is not None:
                self.ctx.audit(req, f"compute.{verb.lower()}", name, before={"state": row["state"]},
                             after={"state": state}, detail=f"trigger {trigger}")
        return op

    # --- what jobs need ----------------------------------------------------------------------

    def require(self, name: str) -> dict[str, Any]:
        return self._row(name)

    def check_job_quota(self, compute_name: str, nodes: int) -> None:
        """A job whose nodes could never fit the family's quota fails before it queues."""
        row = self._row(compute_name)
        if row["type"] == "amlcompute":
            if nodes > row["max_instances"]:
                raise InvalidField("resources.instance_count",
                                   f"{nodes} nodes exceed cluster '{compute_name}' max_instances {row['max_instances']}")
            self.ledger.check_quota(row["size"], nodes, held=False)
        elif row["state"] in ("Stopped", "Stopping"):
            raise BadInput(f"compute instance '{compute_name}' is {row['state']}: start it first "
                           f"(amlops compute start {compute_name})")

    def try_allocate(self, compute_name: str | None, nodes: int, busy: int, now: datetime) -> bool:
        """Claim nodes for a job that is about to start; False when it must keep waiting."""
        if compute_name is None:
            return True  # serverless: no cluster to wait for
        row = self.store.row("SELECT * FROM computes WHERE name = ?", (compute_name,))
        if row is None:
            return False
        if row["type"] == "computeinstance":
            if row["state"] not in ("Running", "JobRunning"):
                return False
            self.store.update("computes", {"name": compute_name},
                              {"state": "JobRunning", "last_activity": now.isoformat()})
            return True
        if busy + nodes > row["max_instances"]:
            return False
        extra = max(busy + nodes - row["current_nodes"], 0)
        if extra:
            try:
                self.ledger.check_quota(row["size"], extra)
            except BadInput:
                return False  # waits in the queue for quota, as in Azure
        self.store.update("computes", {"name": compute_name},
                          {"current_nodes": row["current_nodes"] + extra, "last_activity": now.isoformat(),
                           "state": "Steady"})
        return True

    def release(self, compute_name: str | None, still_busy: int, now: datetime) -> None:
        """A job on this compute ended: activity resets the idle clocks."""
        if compute_name is None:
            return
        row = self.store.row("SELECT type, state FROM computes WHERE name = ?", (compute_name,))
        if row is None:
            return
        values: dict[str, Any] = {"last_activity": now.isoformat()}
        if row["type"] == "computeinstance" and row["state"] == "JobRunning" and still_busy == 0:
            values["state"] = "Running"
        self.store.update("computes", {"name": compute_name}, values)

    # --- the scheduler's part ----------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        busy = self.ledger.busy_nodes()
        for row in self.store.rows("SELECT * FROM computes"):
            if row["type"] == "amlcompute":
                self._scale_down(row, busy.get(row["name"], 0), now)
            else:
                self._instance_tick(row, busy.get(row["name"], 0), now)
        self._accrue(now, busy)

    def _scale_down(self, row: dict[str, Any], busy: int, now: datetime) -> None:
        target = max(row["min_instances"], busy)
        if row["current_nodes"] <= target:
            return
        idle_s = (now - _dt(row["last_activity"])).total_seconds() if row["last_activity"] else 1e9
        if idle_s >= (row["idle_time_before_scale_down_s"] or DEFAULT_SCALE_DOWN_S):
            self.store.update("computes", {"name": row["name"]}, {"current_nodes": target})

    def _instance_tick(self, row: dict[str, Any], busy: int, now: datetime) -> None:
        op = row["last_operation"] or {}
        if row["state"] in ("Starting", "Stopping"):
            # Local instances have no VM to boot: the transition completes on the next tick.
            done = "Running" if row["state"] == "Starting" else "Stopped"
            with self.store.transaction():
                op = {**op, "status": "Succeeded"}
                values: dict[str, Any] = {"state": done, "last_operation": op,
                                          "current_nodes": int(done == "Running")}
                if done == "Running":
                    values["last_activity"] = now.isoformat()  # starting counts as activity
                self.store.update("computes", {"name": row["name"]}, values)
                if op.get("operation_id"):
                    self.ctx.finish_operation(op["operation_id"])
            return
        limit = row["idle_time_before_shutdown_minutes"]
        if row["state"] == "Running" and busy == 0 and limit and row["last_activity"]:
            idle_min = (now - _dt(row["last_activity"])).total_seconds() / 60
            if idle_min >= limit:
                self._transition(None, row, "Stop", "Stopping", "IdleShutdown")
                self.ctx.audit(SCHEDULER, "compute.stop", row["name"], before={"state": "Running"},
                             after={"state": "Stopping"},
                             detail=f"trigger IdleShutdown after {idle_min:.0f} idle minutes (limit {limit})")

    def _accrue(self, now: datetime, busy: dict[str, int]) -> None:
        last, self._last_accrual = self._last_accrual, now
        if last is None or now <= last:
            return
        dt = (now - last).total_seconds()
        day = now.date().isoformat()
        rows = []
        for row in self.store.rows("SELECT name, type, size, state, current_nodes FROM computes"):
            compute = Compute(row["name"], row["type"], row["size"], row["state"], current_nodes=row["current_nodes"])
            nodes = costs.billed_nodes(compute) or 0  # the daemon's instances are never in a state that does not say
            if compute.is_instance:
                idle = int(costs.is_idle(compute))
            else:
                idle = max(nodes - busy.get(row["name"], 0), 0)
            if nodes:
                price = (costs.hourly_cost(row["size"]) or 0.0) / 3600
                rows.append((row["name"], day, nodes * dt, idle * dt, nodes * dt * price, idle * dt * price))
        if rows:
            with self.store.transaction():
                for r in rows:
                    self.store.execute(
                        "INSERT INTO compute_usage VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(compute, day) DO UPDATE SET "
                        "node_seconds = node_seconds + excluded.node_seconds, "
                        "idle_node_seconds = idle_node_seconds + excluded.idle_node_seconds, "
                        "cost = cost + excluded.cost, idle_cost = idle_cost + excluded.idle_cost", r)

    # --- helpers -----------------------------------------------------------------------------

    def _row(self, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM computes WHERE name = ?", (name,))
        if row is None:
            raise NotFound("compute", name)
        return row

    def _instance(self, name: str) -> dict[str, Any]:
        row = self._row(name)
        if row["type"] != "computeinstance":
            raise BadInput(f"'{name}' is a cluster: it scales with its jobs, it cannot be started or stopped")
        return row

    def _size(self, name: str) -> VmSize:
        found = costs.size(name)
        if found is None:
            raise InvalidField("size", f"unknown VM size {name!r}; `amlops compute sizes` lists the known ones")
        return found

    @staticmethod
    def _record(row: dict[str, Any]) -> Compute:
        op = row.get("last_operation")
        return Compute(
            name=row["name"], type=row["type"], size=row["size"], state=row["state"], location="local",
            min_instances=row["min_instances"], max_instances=row["max_instances"],
            current_nodes=row["current_nodes"],
            idle_time_before_scale_down_s=row["idle_time_before_scale_down_s"],
            idle_time_before_shutdown_minutes=row["idle_time_before_shutdown_minutes"],
            last_activity=_dt(row["last_activity"]) if row["last_activity"] else None,
            last_operation=ComputeOperation.from_dict(op) if op else None,
        )


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)

