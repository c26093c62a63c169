"""The local workspace when things go wrong: a daemon killed mid-job, bad input, racing CLI calls,
idle compute, cancellation, and who may read the folder. Each test has its own daemon in tmp_path
(the bad-input cases share one), stopped at teardown along with any job process left behind."""

from __future__ import annotations

import getpass
import json
import os
import secrets
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from console.local.client import LocalWorkspace, stop_daemon
from console.local.folder import WorkspaceFolder

from helpers import Cli, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
PIPELINE = REPO / "tests" / "fixtures" / "azureml-examples" / "jobs" / "basics" / "hello-pipeline-io.yml"
ENVIRONMENT = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
TERMINAL = {"Completed", "Failed", "Canceled"}
USER = getpass.getuser()


# --- helpers -------------------------------------------------------------------------------------


def daemon_env() -> dict[str, str]:
    """The environment for CLI calls and the daemons they start: the test clock on, one thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AMLOPS_"))}
    return env | {"AMLOPS_TEST_CLOCK": "1", "OMP_NUM_THREADS": "1"}


def write_job(folder: Path, command: str, *, compute: str | None = None, extra: str = "",
              filename: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"job-{secrets.token_hex(4)}.yml")
    text = ("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
            f"command: {json.dumps(command)}\n"
            f"environment: {ENVIRONMENT}\n")
    if compute:
        text += f"compute: azureml:{compute}\n"
    path.write_text(text + extra)
    return path


def marker() -> str:
    """A unique sleep duration: `sleep 30.<digits>` names exactly one process on this machine."""
    return f"{secrets.randbelow(10**8):08d}"


def processes():
    """(pid, state, process group, argv) of every process we can see."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield int(proc.name), fields[0], int(fields[2]), [a.decode(errors="replace") for a in argv if a]


def live_with(text: str) -> list[tuple[int, int]]:
    """(pid, pgid) of live processes whose command line contains `text`."""
    return [(pid, pgid) for pid, state, pgid, argv in processes() if state != "Z" and text in " ".join(argv)]


def live_in_group(pgid: int) -> list[int]:
    return [pid for pid, state, group, _ in processes() if group == pgid and state != "Z"]


def pid_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def daemons_for(root: Path) -> list[int]:
    return [pid for pid, state, _, argv in processes()
            if state != "Z" and "console.local.daemon" in argv and str(root) in argv]


def socket_refuses(path: Path) -> bool:
    """True once nothing can connect to the daemon's socket (a killed daemon's last thread is gone)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        except OSError:
            return False
    return False


def read_db(root: Path, sql: str) -> list[tuple]:
    """Read the daemon's database directly, read-only."""
    with sqlite3.connect(f"file:{root / 'state.db'}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql).fetchall()


def mlflow_runs(root: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow/mlflow.db")


def kill_leftover_jobs(root: Path) -> None:
    """Kill the process groups of the workspace's jobs that are still alive (after the daemon stopped)."""
    if not (root / "state.db").exists():
        return
    try:
        pids = {pid for (pid,) in read_db(root, "SELECT pid FROM jobs WHERE pid IS NOT NULL")}
    except sqlite3.Error:
        return
    for pid, state, pgid, _ in processes():
        if pgid in pids and state != "Z":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def shutdown(root: Path) -> None:
    try:
        stop_daemon(WorkspaceFolder(root))
    finally:
        kill_leftover_jobs(root)
        for pid in daemons_for(root):  # a daemon that would not stop
            os.kill(pid, signal.SIGKILL)


def job_status(ws: LocalWorkspace, name: str, wanted: set[str] | str):
    wanted = {wanted} if isinstance(wanted, str) else wanted
    job = ws.jobs.get(name)
    return job if job.status in wanted else None


def wait_job(ws: LocalWorkspace, name: str, timeout: float = 60, wanted=TERMINAL):
    return wait_until(lambda: job_status(ws, name, wanted), timeout, f"job {name} to reach {wanted}")


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "ws"
    yield path
    shutdown(path)


@pytest.fixture
def ws(root, monkeypatch):
    """A LocalWorkspace whose daemon (started on first use) has the test clock."""
    for key, value in daemon_env().items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        monkeypatch.delenv(key)
    return LocalWorkspace(root)


@pytest.fixture
def cli(root):
    return Cli(root, daemon_env())


# --- a daemon killed with jobs in flight ---------------------------------------------------------


def test_killed_daemon_adopts_running_job_and_fails_vanished_one(ws, cli, tmp_path):
    jobs_dir = tmp_path / "specs"
    cli.run("create", "-f", str(SPECS / "compute" / "cpu-cluster.yml"))
    cli.run("create", "-f", str(SPECS / "data" / "churn-features.yml"))
    cli.run("create", "-f", str(SPECS / "environments" / "churn-train-env.yml"))
    before_job = ws.jobs.submit(str(write_job(jobs_dir, "echo before")))
    assert wait_job(ws, before_job.name).status == "Completed"

    survivor_mark, victim_mark = marker(), marker()
    survivor = ws.jobs.submit(str(write_job(jobs_dir, f"sleep 5.{survivor_mark} && echo done-survivor",
                                            compute="cpu-cluster")))
    victim = ws.jobs.submit(str(write_job(jobs_dir, f"sleep 30.{victim_mark}")))
    wait_job(ws, survivor.name, wanted="Running")
    wait_job(ws, victim.name, wanted="Running")
    victim_procs = wait_until(lambda: live_with(f"sleep 30.{victim_mark}"), 10, "the victim's sleep")

    jobs_before = {j.name: j for j in ws.jobs.list()}
    assets_before = {(a.kind, a.name, a.version) for kind in ("data", "environment")
                     for a in ws.assets.list(kind)}
    computes_before = {c.name for c in ws.compute.list()}
    audit_before = read_db(cli.root, "SELECT * FROM audit ORDER BY id")
    old_pid = ws.connection.call("daemon.status")["pid"]

    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: pid_gone(old_pid), 10, "the daemon to die")
    # Its main thread is a zombie before its last thread has let go of the socket: wait for that,
    # so the next call meets a dead socket rather than a dying one.
    wait_until(lambda: socket_refuses(ws.folder.socket), 10, "the daemon's socket to refuse connections")
    pgid = victim_procs[0][1]
    os.killpg(pgid, signal.SIGKILL)
    wait_until(lambda: not live_in_group(pgid), 10, "the victim's process group to die")

    assert live_with(f"sleep 5.{survivor_mark}"), "the survivor ended too soon for this test to mean anything"
    # The next call restarts the daemon on demand; it adopts the survivor and settles the victim.
    jobs_after = {j.name: j for j in ws.jobs.list()}
    new_pid = ws.connection.call("daemon.status")["pid"]
    assert new_pid != old_pid
    assert set(jobs_before) <= set(jobs_after)

    survived = wait_job(ws, survivor.name, timeout=60)
    assert survived.status == "Completed", survived
    assert "done-survivor" in "".join(ws.jobs.logs(survivor.name))
    failed = wait_job(ws, victim.name, timeout=30)
    assert failed.status == "Failed", failed
    assert "daemon was down" in (failed.error or ""), failed.error
    assert ws.jobs.get(before_job.name).status == "Completed"
    runs = mlflow_runs(cli.root)
    assert runs.get_run(survived.mlflow_run_id).info.status == "FINISHED"
    assert runs.get_run(failed.mlflow_run_id).info.status == "FAILED"
    assert [a.path for a in runs.list_artifacts(survived.mlflow_run_id, "user_logs")] == ["user_logs/std_log.txt"]

    # Nothing recorded is lost, and the audit log is only appended to.
    assert {(a.kind, a.name, a.version) for kind in ("data", "environment")
            for a in ws.assets.list(kind)} == assets_before
    assert {c.name for c in ws.compute.list()} == computes_before
    audit_after = read_db(cli.root, "SELECT * FROM audit ORDER BY id")
    assert audit_after[: len(audit_before)] == audit_before

    # And the restarted daemon works.
    again = ws.jobs.submit(str(write_job(jobs_dir, "echo after-restart")))
    assert wait_job(ws, again.name).status == "Completed"
    newest = read_db(cli.root, "SELECT operation, target, result FROM audit ORDER BY id DESC LIMIT 1")[0]
    assert newest == ("jobs.submit", again.name, "Succeeded")
    assert read_db(cli.root, "SELECT * FROM audit ORDER BY id")[: len(audit_before)] == audit_before


# --- bad input leaves the workspace unchanged ----------------------------------------------------

_JOB_HEAD = ("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
             f"environment: {ENVIRONMENT}\n")
_COMPUTE_HEAD = "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"

# id: (command, YAML text, what stderr must name)
BAD_INPUT = {
    "malformed-yaml": ("job", _JOB_HEAD + "command: [echo hi\ncompute: azureml:cpu-cluster\n", "bad.yml:"),
    "unknown-compute": ("job", _JOB_HEAD + "command: echo hi\ncompute: azureml:nope\n", "nope"),
    "missing-asset-version": ("job", _JOB_HEAD + "command: ls ${{inputs.d}}\ncompute: azureml:cpu-cluster\n"
                              "inputs:\n  d:\n    type: uri_folder\n    path: azureml:churn_features:99\n",
                              "churn_features:99"),
    "zero-gpu-quota": ("job", _JOB_HEAD + "command: echo hi\ncompute: azureml:gpu-cluster\n",
                       "standardNCSv3Family"),
    "compute-min-above-max": ("create", _COMPUTE_HEAD + "name: tiny-cluster\ntype: amlcompute\n"
                              "size: Standard_DS3_v2\nmin_instances: 3\nmax_instances: 1\n", "min_instances"),
    "more-nodes-than-the-cluster": ("job", _JOB_HEAD + "command: echo hi\ncompute: azureml:cpu-cluster\n"
                                    "resources:\n  instance_count: 5\n", "instance_count"),
    "duplicate-job-name": ("job", _JOB_HEAD + "name: first-job\ncommand: echo hi\n", "first-job"),
    "gpu-instance-zero-quota": ("create", "$schema: https://azuremlschemas.azureedge.net/latest/"
                                "computeInstance.schema.json\nname: gpu-box\ntype: computeinstance\n"
                                "size: Standard_NC6s_v3\n", "standardNCSv3Family"),
    "data-path-missing": ("create", "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
                          "name: ghost\nversion: 1\ntype: uri_folder\npath: ./no-such-folder/\n",
                          "no-such-folder"),
    # Azure: compute names are 3-24 characters, letters, digits and hyphens, a letter first.
    "compute-name-breaks-rules": ("create", _COMPUTE_HEAD + "name: 1-bad_name!\ntype: amlcompute\n"
                                  "size: Standard_DS3_v2\n", "name"),
    "compute-name-too-long": ("create", _COMPUTE_HEAD + "name: abcdefghijklmnopqrstuvwxyz0123\n"
                              "type: amlcompute\nsize: Standard_DS3_v2\n", "name"),
    # Azure: a job name is letters, digits, '-' and '_'; this one would also escape jobs/.
    "job-name-path-traversal": ("job", _JOB_HEAD + "name: ../escaped\ncommand: echo hi\n", "name"),
    # Azure: asset names are letters, digits, '-', '_' and '.', starting with a letter or digit.
    "data-name-breaks-rules": ("create", "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
                               "name: bad name!\nversion: 1\ntype: uri_folder\npath: .\n", "name"),
}


@pytest.fixture(scope="module")
def bad_input_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad") / "ws"
    cli = Cli(root, daemon_env())
    try:
        for spec in ("compute/cpu-cluster.yml", "compute/gpu-cluster.yml", "data/churn-features.yml"):
            cli.run("create", "-f", str(SPECS / spec))
        job = cli.json("job", "submit", str(write_job(root.parent / "specs", "echo ok", extra="name: first-job\n")))
        wait_until(lambda: cli.json("job", "show", job["name"])["status"] in TERMINAL, 60, "the first job", 0.2)
        yield cli
    finally:
        shutdown(root)


def snapshot(root: Path) -> dict:
    state = {table: read_db(root, f"SELECT * FROM {table} ORDER BY rowid")
             for table in ("assets", "computes", "jobs", "operations")}
    state["job folders"] = sorted(p.name for p in (root / "jobs").iterdir())
    state["workspace entries"] = sorted(p.name for p in root.iterdir())
    return state


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_leaves_workspace_unchanged(bad_input_ws, case, tmp_path):
    cli = bad_input_ws
    command, text, named = BAD_INPUT[case]
    spec = tmp_path / "bad.yml"
    spec.write_text(text)
    # A case that was wrongly accepted may have queued a job: let it settle before looking.
    wait_until(lambda: not read_db(cli.root, "SELECT name FROM jobs WHERE status NOT IN "
                                   "('Completed', 'Failed', 'Canceled')"), 60, "earlier jobs to end")
    before = snapshot(cli.root)
    last_audit = read_db(cli.root, "SELECT COALESCE(MAX(id), 0) FROM audit")[0][0]

    args = ("job", "submit", str(spec)) if command == "job" else ("create", "-f", str(spec))
    proc = cli.run(*args, check=False)

    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("amlops: error:"), proc.stderr
    assert named in proc.stderr, proc.stderr
    assert snapshot(cli.root) == before
    if case == "job-name-path-traversal":
        assert not (cli.root / "escaped").exists()
    # The refusal is audited: who tried what, and why it was refused.
    new = read_db(cli.root, f"SELECT actor, operation, result, detail FROM audit WHERE id > {last_audit}")
    assert new, "the rejected mutation left no audit entry"
    assert all(actor == USER and result == "Rejected" for actor, _, result, _ in new), new


def test_rejected_read_only_call_changes_nothing(bad_input_ws):
    cli = bad_input_ws
    proc = cli.run("job", "show", "no_such_job", check=False)
    assert proc.returncode == 2 and "no_such_job" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli.run("--read-only", "create", "-f", str(SPECS / "compute" / "dev-instance.yml"), check=False)
    assert proc.returncode == 2 and "read-only" in proc.stderr
    assert "dev-instance" not in {c["name"] for c in cli.json("compute", "list")}


# --- the folder is private -----------------------------------------------------------------------


@pytest.mark.parametrize("relative", ["", "daemon.sock", "state.db", "jobs"])
def test_workspace_files_are_owner_only(ws, relative):
    ws.compute.list()  # starts the daemon, which creates everything
    path = ws.folder.root / relative
    mode = path.stat().st_mode
    if relative == "daemon.sock":
        assert stat.S_ISSOCK(mode)
    assert path.stat().st_uid == os.getuid()
    assert stat.S_IMODE(mode) & 0o077 == 0, f"{path} is {stat.S_IMODE(mode):o}, readable beyond its owner"
    if relative in ("", "jobs"):
        assert stat.S_IMODE(mode) == 0o700
    if relative in ("daemon.sock", "state.db"):
        assert stat.S_IMODE(mode) == 0o600


# --- racing CLI calls ----------------------------------------------------------------------------


def test_concurrent_cli_calls_start_exactly_one_daemon(cli, tmp_path):
    job = write_job(tmp_path / "specs", "echo hi")
    assert not cli.root.exists()
    procs = [subprocess.Popen(cli.argv("job", "submit", str(job), "--json"), cwd=REPO, env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    names = [json.loads(out)["name"] for _, out, _ in results]
    assert len(set(names)) == 8

    pid = int((cli.root / "daemon.pid").read_text())
    assert cli.json("local", "status")["pid"] == pid
    # The daemons that lost the race exit; exactly one is left serving.
    assert wait_until(lambda: daemons_for(cli.root) == [pid], 20, "one daemon left")
    listed = {j["name"] for j in cli.json("job", "list")}
    assert set(names) == listed
    ws = LocalWorkspace(cli.root, autostart=False)
    for name in names:
        assert wait_job(ws, name).status == "Completed"


def test_many_concurrent_socket_clients_all_get_answers(ws):
    """A console refreshing several panes at once, plus a script or two: 16 callers at the same time."""
    ws.compute.list()
    errors: list[str] = []
    answered = [0]
    start = threading.Barrier(16)

    def caller():
        start.wait()
        for _ in range(25):
            try:
                ws.jobs.list()
                answered[0] += 1
            except Exception as err:  # noqa: BLE001 - any error is the finding
                errors.append(f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, f"{len(errors)} of {16 * 25} calls failed, e.g. {sorted(set(errors))[:3]}"
    assert answered[0] == 16 * 25


def test_reader_never_sees_errors_or_partial_results(cli):
    cli.run("create", "-f", str(SPECS / "compute" / "cpu-cluster.yml"))
    ws = LocalWorkspace(cli.root, autostart=False)
    writing = threading.Event()
    writing.set()
    problems: list[str] = []
    reads = {"cli": 0, "socket": 0}

    def check(jobs: list[dict], source: str, previous: int) -> int:
        names = [j["name"] for j in jobs]
        if len(names) != len(set(names)):
            problems.append(f"{source}: duplicate names {names}")
        if len(names) < previous:
            problems.append(f"{source}: {len(names)} jobs after seeing {previous}")
        by_parent: dict[str, int] = {}
        for j in jobs:
            if j["parent"]:
                by_parent[j["parent"]] = by_parent.get(j["parent"], 0) + 1
        for j in jobs:
            if j["job_type"] == "pipeline" and by_parent.get(j["name"], 0) != 2:
                problems.append(f"{source}: pipeline {j['name']} listed with {by_parent.get(j['name'], 0)} steps")
            if j["parent"] and j["parent"] not in names:
                problems.append(f"{source}: step {j['name']} listed without its pipeline")
        return len(names)

    def cli_reader():
        seen = 0
        while writing.is_set() or reads["cli"] == 0:
            proc = cli.run("job", "list", "--json", check=False)
            reads["cli"] += 1
            if proc.returncode != 0 or proc.stderr:
                problems.append(f"cli: exit {proc.returncode}: {proc.stderr}")
                continue
            try:
                seen = check(json.loads(proc.stdout), "cli", seen)
            except ValueError as err:
                problems.append(f"cli: not JSON ({err}): {proc.stdout[:200]}")

    def socket_reader():
        seen = 0
        while writing.is_set():
            try:
                seen = check([j.to_dict() for j in ws.jobs.list()], "socket", seen)
            except Exception as err:  # noqa: BLE001 - any error is the finding
                problems.append(f"socket: {type(err).__name__}: {err}")
            reads["socket"] += 1

    readers = [threading.Thread(target=cli_reader), threading.Thread(target=socket_reader)]
    for r in readers:
        r.start()
    try:
        writers = [subprocess.Popen(cli.argv("job", "submit", str(PIPELINE), "--json"), cwd=REPO, env=cli.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = [(w.wait(timeout=120), *w.communicate()) for w in writers]
    finally:
        writing.clear()
        for r in readers:
            r.join(60)
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    assert not problems, problems[:10]
    assert reads["cli"] >= 1 and reads["socket"] >= 10, reads
    names = [json.loads(out)["name"] for _, out, _ in results]
    for name in names:
        assert wait_job(ws, name, timeout=120).status == "Completed"
    assert len(ws.jobs.list()) == 6 * 3


# --- compute: idle rules, scale-down, queueing ---------------------------------------------------


def test_idle_instance_shuts_down_and_starts_again(ws, cli):
    created = cli.json("create", "-f", str(SPECS / "compute" / "dev-instance.yml"))
    assert created["state"] == "Running"
    assert created["last_operation"]["trigger"] == "User"

    ws.connection.call("debug.advance_clock", seconds=31 * 60)

    def stopped():
        c = ws.compute.get("dev-instance")
        return c if c.state == "Stopped" else None

    instance = wait_until(stopped, 10, "dev-instance to stop after 31 idle minutes")
    assert instance.last_operation.trigger == "IdleShutdown"
    assert instance.last_operation.name == "Stop"
    assert instance.last_operation.status == "Succeeded"
    shown = cli.json("compute", "show", "dev-instance")
    assert shown["state"] == "Stopped" and shown["last_operation"]["trigger"] == "IdleShutdown"
    audit = cli.json("audit", "--limit", "100")
    idle = [e for e in audit if e["operation"] == "compute.stop" and e["target"] == "dev-instance"]
    assert idle and idle[0]["actor"] == "amlops-scheduler", audit
    assert "IdleShutdown" in (idle[0]["detail"] or "")

    out = cli.run("compute", "start", "dev-instance")
    assert "Succeeded" in out.stdout, out.stdout
    instance = ws.compute.get("dev-instance")
    assert instance.state == "Running"
    assert (instance.last_operation.name, instance.last_operation.trigger) == ("Start", "User")
    started = [e for e in cli.json("audit", "--limit", "100") if e["operation"] == "compute.start"]
    assert started and started[0]["actor"] == USER


def test_cluster_scales_down_after_idle_time(ws, cli, tmp_path):
    cli.run("create", "-f", str(SPECS / "compute" / "cpu-cluster.yml"))
    assert ws.compute.get("cpu-cluster").current_nodes == 0
    job = ws.jobs.submit(str(write_job(tmp_path / "specs", "echo hi", compute="cpu-cluster")))
    assert wait_job(ws, job.name).status == "Completed"
    cluster = ws.compute.get("cpu-cluster")
    assert cluster.current_nodes == 1
    assert cluster.idle_time_before_scale_down_s == 120

    ws.connection.call("debug.advance_clock", seconds=121)
    wait_until(lambda: ws.compute.get("cpu-cluster").current_nodes == 0, 10, "cpu-cluster to scale to 0")
    assert ws.compute.get("cpu-cluster").min_instances == 0


def test_cluster_at_max_instances_queues_the_next_job(ws, cli, tmp_path):
    spec = tmp_path / "one-node.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
                    "name: one-node\ntype: amlcompute\nsize: Standard_DS3_v2\nmin_instances: 0\nmax_instances: 1\n")
    cli.run("create", "-f", str(spec))
    first = ws.jobs.submit(str(write_job(tmp_path / "specs", "sleep 2 && echo first", compute="one-node")))
    second = ws.jobs.submit(str(write_job(tmp_path / "specs", "echo second", compute="one-node")))

    wait_job(ws, first.name, wanted="Running")
    assert ws.jobs.get(second.name).status == "Queued"
    assert ws.compute.get("one-node").current_nodes == 1

    first_done = wait_job(ws, first.name)
    second_done = wait_job(ws, second.name)
    assert first_done.status == second_done.status == "Completed"
    assert second_done.started_at >= first_done.ended_at
    assert ws.compute.get("one-node").current_nodes == 1


# --- cancel --------------------------------------------------------------------------------------


def test_cancel_ends_canceled_and_kills_the_process_group(ws, cli, tmp_path):
    mark = marker()
    job = ws.jobs.submit(str(write_job(tmp_path / "specs", f"sleep 60.{mark}; echo never")))
    wait_job(ws, job.name, wanted="Running")
    pgid = wait_until(lambda: live_with(f"sleep 60.{mark}"), 10, "the job's sleep")[0][1]
    assert pgid != os.getpgrp()

    out = cli.run("job", "cancel", job.name)
    assert "cancel requested" in out.stdout
    canceled = wait_job(ws, job.name, timeout=30)
    assert canceled.status == "Canceled", canceled
    assert canceled.ended_at is not None
    wait_until(lambda: not live_in_group(pgid), 15, "the job's process group to be gone")
    assert "never" not in "".join(ws.jobs.logs(job.name))
    assert mlflow_runs(cli.root).get_run(canceled.mlflow_run_id).info.status == "KILLED"

    again = cli.run("job", "cancel", job.name, check=False)
    assert again.returncode == 2 and "Canceled" in again.stderr and "Traceback" not in again.stderr
    cancels = [(e["actor"], e["result"]) for e in cli.json("audit") if e["operation"] == "jobs.cancel"]
    assert cancels == [(USER, "Rejected"), (USER, "Succeeded")], cancels  # newest first
