"""Start and stop the local stack as plain processes, bound to 127.0.0.1 by default.

    python -m infra.stack up [--s3] [--state-dir .stack]
    python -m infra.stack env      # print the variables that point the code at the stack
    python -m infra.stack worker --pool default [--pool latency-<device>]   # Prefect workers
    python -m infra.stack down     # workers first, then the servers

Every service and worker writes its pid and log under the state directory; ``up`` and ``worker``
are idempotent (a running one is left alone). Tests use the same functions to start real servers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
DEFAULT_STATE = Path(".stack")
WORKER_PREFIX = "worker-"
WORKER_SETTLE_S = 3.0
"""A worker that is still running this long after its start is taken as up (it has no endpoint)."""


@dataclass(frozen=True)
class Service:
    """One server process: how to start it and how to tell it is ready."""

    name: str
    argv: list[str]
    health_url: str | None
    """None for a process without an endpoint (a worker): ready once it has stayed up a moment."""
    env: dict[str, str] = field(default_factory=dict)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def prefect_service(state: Path, host: str = "127.0.0.1", port: int = 4200) -> Service:
    home = state / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    return Service(
        name="prefect",
        argv=[str(BIN / "prefect"), "server", "start", "--host", host, "--port", str(port)],
        health_url=f"http://{host}:{port}/api/health",
        env={"PREFECT_HOME": str(home.resolve()), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )


def mlflow_service(
    state: Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    artifacts: str | None = None,
    env: dict[str, str] | None = None,
) -> Service:
    db = (state / "mlflow" / "mlflow.db").resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    destination = artifacts or (state / "mlflow" / "artifacts").resolve().as_uri()
    return Service(
        name="mlflow",
        argv=[
            str(BIN / "mlflow"), "server", "--host", host, "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", destination,
        ],
        health_url=f"http://{host}:{port}/health",
        env=env or {},
    )


def worker_service(pool: str, env: dict[str, str], kind: str = "process") -> Service:
    """A Prefect worker polling ``pool`` (created if missing); ``env`` points it (and the flows it
    runs) at the stack, ``PREFECT_API_URL`` at least."""
    return Service(
        name=f"{WORKER_PREFIX}{pool}",
        argv=[str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", kind],
        health_url=None,
        env=dict(env),
    )


def s3_service(host: str = "127.0.0.1", port: int = 9000) -> Service:
    return Service(
        name="s3",
        argv=[str(BIN / "moto_server"), "-H", host, "-p", str(port)],
        health_url=f"http://{host}:{port}/moto-api/",
    )


def start(service: Service, state: Path, timeout: float = 120.0) -> int:
    """Start ``service`` in its own process group unless it already runs; return its pid."""
    state.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(state, service.name)
    if pid is not None and (service.health_url is None or _healthy(service.health_url)):
        return pid
    log = open(state / f"{service.name}.log", "ab")
    proc = subprocess.Popen(
        service.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **service.env},
        start_new_session=True,
    )
    # the pid and the program it runs: a pid reused by another process is never signalled
    (state / f"{service.name}.pid").write_text(json.dumps({"pid": proc.pid, "program": Path(service.argv[0]).name}))
    wait_healthy(service, proc, timeout)
    return proc.pid


def wait_healthy(service: Service, proc: subprocess.Popen, timeout: float) -> None:
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited with code {proc.returncode} before becoming ready")
        if service.health_url is None:
            if time.monotonic() - started >= WORKER_SETTLE_S:
                return
        elif _healthy(service.health_url):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{service.name} not ready at {service.health_url} after {timeout:.0f} s")


def stop(name: str, state: Path, timeout: float = 20.0) -> bool:
    """Stop a service started by ``start`` (its whole process group); True if one was running."""
    pid = _read_pid(state, name)
    (state / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def stop_workers(state: Path, timeout: float = 10.0) -> list[str]:
    """Stop every worker ``start`` recorded under ``state`` (a worker that ignores SIGTERM is killed
    after ``timeout``); return their names."""
    names = sorted(p.stem for p in state.glob(f"{WORKER_PREFIX}*.pid"))
    return [name for name in names if stop(name, state, timeout)]


def stack_env(prefect: Service | None, mlflow: Service | None, s3: Service | None) -> dict[str, str]:
    """The variables that point the code (and the CLIs) at the running stack."""
    env: dict[str, str] = {}
    if prefect is not None:
        env["PREFECT_API_URL"] = prefect.health_url.removesuffix("/health")
    if mlflow is not None:
        env["ELASTICVIT_TRACKING_URI"] = mlflow.health_url.removesuffix("/health")
        env["MLFLOW_TRACKING_URI"] = env["ELASTICVIT_TRACKING_URI"]
    if s3 is not None:
        endpoint = s3.health_url.removesuffix("/moto-api/")
        env["ELASTICVIT_S3_ENDPOINT_URL"] = endpoint
        env["MLFLOW_S3_ENDPOINT_URL"] = endpoint
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "env", "status", "worker"])
    parser.add_argument("--pool", action="append", default=[],
                        help="with `worker`: a work pool to start a worker for (repeatable)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--s3", action="store_true", help="also start an S3-compatible server (moto)")
    parser.add_argument("--s3-port", type=int, default=9000)
    args = parser.parse_args(argv)
    state: Path = args.state_dir
    services = [prefect_service(state, args.host, args.prefect_port), mlflow_service(state, args.host, args.mlflow_port)]
    if args.s3 or (state / "s3.pid").exists():
        services.append(s3_service(args.host, args.s3_port))
    by_name = {s.name: s for s in services}
    env = stack_env(by_name.get("prefect"), by_name.get("mlflow"), by_name.get("s3"))
    if args.command == "up":
        for service in services:
            pid = start(service, state)
            print(f"{service.name:8s} pid {pid:>7d}  {service.health_url}")
        (state / "env.json").write_text(json.dumps(env, indent=2))
        print(_export_lines(env))
    elif args.command == "env":
        print(_export_lines(env))
    elif args.command == "worker":
        if not args.pool:
            parser.error("worker needs at least one --pool")
        for pool in args.pool:
            service = worker_service(pool, env)
            print(f"{service.name} pid {start(service, state)}  (stopped by `down`)")
    elif args.command == "status":
        for service in services:
            print(f"{service.name:8s} {'up' if _healthy(str(service.health_url)) else 'down'}  {service.health_url}")
        for pid_file in sorted(state.glob(f"{WORKER_PREFIX}*.pid")):
            print(f"{pid_file.stem} {'up' if _read_pid(state, pid_file.stem) else 'down'}")
    else:
        for name in stop_workers(state):
            print(f"stopped {name}")
        for name in ("prefect", "mlflow", "s3"):
            if stop(name, state):
                print(f"stopped {name}")
    return 0


def _export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={v}" for k, v in env.items())


def _read_pid(state: Path, name: str) -> int | None:
    """The service's pid while that process still runs the program it was started with, else None."""
    try:
        record = json.loads((state / f"{name}.pid").read_text())
        pid, program = int(record["pid"]), str(record["program"])
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, or not written by ``start``: nothing known to be ours
    return pid if _alive(pid) and _runs(pid, program) else None


def _runs(pid: int, program: str) -> bool:
    """Whether ``pid``'s command line names ``program`` (the interpreter of a console script comes
    first, so any argument counts). Without /proc (macOS) a live pid is trusted."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self/cmdline").exists():
        return True
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(arg.decode(errors="replace")).name == program for arg in args if arg)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child: a zombie still answers kill 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return 200 <= resp.status < 300
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
