"""Shared pieces of the benchmark: paths, the server environment, the bench database,
percentiles and a description of the machine.

Everything stays on loopback: PostgreSQL at 127.0.0.1:5432 and gunicorn on 127.0.0.1.
"""

from __future__ import annotations

import math
import os
import platform
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tambo.core import keyfile

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
VENV_BIN = PROJECT_DIR / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
TAMBO = VENV_BIN / "tambo"
GUNICORN = VENV_BIN / "gunicorn"

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
BENCH_DB = "tambo_bench"
DATABASE_URL = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{BENCH_DB}"


# Set by run.py to the run's temporary directory: var/, media and signing keys of the
# benchmark live there, never in the project's var/.
RUN_VAR_DIR: Path | None = None


def server_env() -> dict[str, str]:
    """The environment of every Tambo process of the run (commands and gunicorn)."""
    env = dict(os.environ)
    for name in list(env):
        # Nothing from the caller's Tambo configuration may leak into the run.
        if name.startswith("TAMBO_"):
            del env[name]
    env.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "DJANGO_SETTINGS_MODULE": "tambo.settings.production",
            "TAMBO_SECRET_KEY": "bench-only-secret",
            "TAMBO_SECURE_COOKIES": "0",
            "TAMBO_HSTS_SECONDS": "0",
            "TAMBO_SSL_REDIRECT": "0",
            "TAMBO_BENCH_ENDPOINTS": "1",
            "TAMBO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TAMBO_LOG_LEVEL": "WARNING",
            "TAMBO_SIGNING_PASSWORD": "bench-only-signing-password",
            "PYTHONUNBUFFERED": "1",
            # 32 clients file hundreds of times a second from one address: the limits stay
            # on (their cost is measured) but this high they never refuse.
            "TAMBO_RATE_LIMIT_FILING": "100000000/60",
            "TAMBO_RATE_LIMIT_STATUS": "100000000/60",
            "TAMBO_RATE_LIMIT_VERIFY": "100000000/60",
            "TAMBO_RATE_LIMIT_LOGIN": "100000000/60",
        }
    )
    if RUN_VAR_DIR is not None:
        env["TAMBO_VAR_DIR"] = str(RUN_VAR_DIR)
        env["TAMBO_MEDIA_ROOT"] = str(RUN_VAR_DIR / "media")
        env["TAMBO_SIGNING_KEYS_DIR"] = str(RUN_VAR_DIR / "keys")
    # Production settings refuse to start without the audit checkpoint key: one per run.
    checkpoint_key = (RUN_VAR_DIR or PROJECT_DIR / "var") / "keys" / "audit-checkpoint.pem"
    keyfile.create(checkpoint_key)
    env["TAMBO_CHECKPOINT_KEY"] = str(checkpoint_key)
    return env


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    )


def recreate_database() -> None:
    with _admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))


def drop_database() -> None:
    with _admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )


def run_sql(statement: str) -> None:
    """One statement on the bench database, in autocommit (VACUUM needs it)."""
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=BENCH_DB, autocommit=True
    ) as conn:
        conn.execute(statement)


def postgres_info() -> dict[str, str]:
    names = ["server_version", "shared_buffers", "synchronous_commit", "fsync", "max_connections"]
    with _admin_connection() as conn:
        return {
            n: str(conn.execute(sql.SQL("SHOW {}").format(sql.SQL(n))).fetchone()[0]) for n in names
        }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _meminfo_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB ({kib} kB)"
    except OSError:
        pass
    return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        pg = postgres_info()
        pg_text = (
            f"{pg['server_version']} (shared_buffers {pg['shared_buffers']}, "
            f"synchronous_commit {pg['synchronous_commit']}, fsync {pg['fsync']}, "
            f"max_connections {pg['max_connections']})"
        )
    except psycopg.Error as exc:
        pg_text = f"unavailable ({exc.__class__.__name__})"
    return {
        "nproc": str(usable),
        "memory": _meminfo_total(),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "postgresql": pg_text,
        "python": sys.version.split()[0],
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(total, idle) jiffies of the whole machine from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]), idle


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime ticks) for every process still alive."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def _descendants(table: dict[int, tuple[int, int]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def bench_backend_pids() -> set[int]:
    """PostgreSQL backends serving the bench database (gunicorn's and our commands')."""
    try:
        with _admin_connection() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (BENCH_DB,)
            ).fetchall()
    except psycopg.Error:
        return set()
    return {r[0] for r in rows}


# Set by run.py once gunicorn runs: its master's pid (workers are its children).
SERVER_PID: int | None = None


class CpuSampler:
    """CPU use between two points: the whole machine; the benchmark's own processes split
    into gunicorn (master + workers), PostgreSQL (backends of the bench database) and the
    rest of this process tree (load generator); and, by difference, every other process
    on the machine."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.machine = _machine_ticks()
        self.mine = self._mine()

    @staticmethod
    def _mine() -> dict[int, tuple[str, int]]:
        table = _proc_table()
        server = _descendants(table, SERVER_PID) if SERVER_PID in table else set()
        backends = bench_backend_pids()
        found = {}
        for pid in _descendants(table, os.getpid()) | backends:
            if pid in table:
                group = "server" if pid in server else "postgres" if pid in backends else "client"
                found[pid] = (group, table[pid][1])
        return found

    def finish(self) -> CpuUse:
        total, idle = _machine_ticks()
        d_total, d_idle = total - self.machine[0], idle - self.machine[1]
        busy = 0.0 if d_total <= 0 else 1 - d_idle / d_total
        elapsed = max(1e-6, time.monotonic() - self.started)
        groups = {"server": 0.0, "postgres": 0.0, "client": 0.0}
        for pid, (group, ticks) in self._mine().items():
            before = self.mine.get(pid, (group, 0))[1]
            groups[group] += max(0, ticks - before) / CLOCK_TICKS / elapsed
        cores = os.cpu_count() or 1
        mine = sum(groups.values())
        return CpuUse(
            busy, mine, max(0.0, busy * cores - mine), groups["server"], groups["postgres"]
        )


@dataclass
class CpuUse:
    machine_busy: float  # share of all cores
    bench_cores: float  # cores used by the benchmark's processes
    other_cores: float  # cores used by everything else (other sessions, services)
    server_cores: float = 0.0  # gunicorn master + workers
    postgres_cores: float = 0.0  # PostgreSQL backends of the bench database


def background_load(seconds: float) -> CpuUse:
    sampler = CpuSampler()
    time.sleep(seconds)
    return sampler.finish()


def wait_until_quiet(max_wait: float, threshold_cores: float = 0.3) -> tuple[CpuUse, float]:
    """Wait (bounded) until other processes use less than ``threshold_cores``."""
    began = time.monotonic()
    use = background_load(2.0)
    while use.other_cores > threshold_cores and time.monotonic() - began < max_wait:
        use = background_load(2.0)
    return use, time.monotonic() - began


WAIT_CATEGORIES = {
    "Lock": "waiting for a lock (row/transaction)",
    "LWLock:WALWrite": "WAL flush (commit)",
    "IO:WALSync": "WAL flush (commit)",
    "IO:WALWrite": "WAL flush (commit)",
    "IO:WALInitWrite": "WAL flush (commit)",
    "IO:WALInitSync": "WAL flush (commit)",
    "IPC:SyncRep": "WAL flush (commit)",
}


class WaitSampler:
    """Samples what the bench database's PostgreSQL backends are doing (pg_stat_activity)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.samples = 0
        self.conn = _admin_connection()

    def sample(self) -> None:
        rows = self.conn.execute(
            "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            (BENCH_DB,),
        ).fetchall()
        self.samples += 1
        for state, wtype, wevent in rows:
            if state == "idle":
                label = "idle (connection between requests)"
            elif state and state.startswith("idle in transaction"):
                label = "idle in transaction (app works mid-transaction)"
            elif wtype is None:
                label = "running a statement (CPU)"
            else:
                label = WAIT_CATEGORIES.get(wtype) or WAIT_CATEGORIES.get(
                    f"{wtype}:{wevent}", f"other wait {wtype}:{wevent}"
                )
            self.counts[label] = self.counts.get(label, 0) + 1

    def close(self) -> None:
        self.conn.close()

    def summary(self) -> dict[str, float]:
        """Average number of backends in each state."""
        if not self.samples:
            return {}
        return {k: v / self.samples for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1])}
