"""Real processes for the fault tests: a throwaway PostgreSQL cluster, gunicorn, an HTTP client.

Nothing here is a mock: the cluster is a real ``initdb``'d PostgreSQL on a free port in a
temporary directory (so it can be shut down with ``pg_ctl stop -m immediate`` — the shared
server on 5432 is never touched), gunicorn runs ``deploy/gunicorn.conf.py`` with the
production settings, and the client speaks HTTP over TCP. The cluster runs with
``fsync=off``: it is killed as a process (like a crash of the server program), never as a
machine, so what it acknowledged is in the operating system's cache and survives; the
crash-recovery path (WAL replay on start) is the real one.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin() -> Path:
    """The newest PostgreSQL server binaries installed (Debian puts them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


class Cluster:
    """A PostgreSQL cluster of our own: start, crash (immediate shutdown), start again."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="tambo-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=120 -c shared_buffers=64MB "
            "-c log_timezone=UTC"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def crash(self) -> None:
        """``pg_ctl stop -m immediate``: every backend dies at once, no checkpoint."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def accepts(self, timeout: float = 0.5) -> bool:
        """Whether anything accepts TCP connections on the cluster's port right now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout):
                return True
        except OSError:
            return False

    def ready_times(self) -> list[float]:
        """When the server said it was ready to accept connections (epoch seconds, its log).

        The server's own clock: ``pg_ctl -w start`` returns only after it has polled the
        server ready, which on a loaded machine can be well after clients were served.
        """
        times = []
        with contextlib.suppress(OSError):
            for line in (self.root / "log").read_text().splitlines():
                if "ready to accept connections" in line:
                    stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
                    times.append(stamp.replace(tzinfo=UTC).timestamp())
        return times

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "log").read_text().splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", statement],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return result.stdout.strip()


def tambo_env(cluster: Cluster, database: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The production profile, pointed at our cluster and a private var directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAMBO_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="tambo.settings.production",
        DATABASE_URL=cluster.url(database),
        TAMBO_SECRET_KEY="fault-tests-" + "x" * 50,
        TAMBO_SIGNING_PASSWORD="fault-tests-keys",
        TAMBO_ALLOWED_HOSTS="127.0.0.1",
        TAMBO_SECURE_COOKIES="0",
        TAMBO_HSTS_SECONDS="0",
        TAMBO_SSL_REDIRECT="0",  # plain HTTP on loopback (TLS is the reverse proxy's job)
        TAMBO_VAR_DIR=str(var_dir),
        TAMBO_MEDIA_ROOT=str(var_dir / "media"),
        TAMBO_SIGNING_KEYS_DIR=str(var_dir / "keys"),
        TAMBO_CATALOG_DIR=str(REPO / "catalog"),
        TAMBO_LOG_FORMAT="json",
        TAMBO_LOG_LEVEL="WARNING",
        TAMBO_DB_CONNECT_TIMEOUT="2",
        TAMBO_DB_STATEMENT_TIMEOUT_MS="5000",
        # Worker boot (imports) on a shared, loaded CI machine can pass gunicorn's 30 s; the
        # tests hold every answer to their own, much shorter limits.
        TAMBO_WEB_TIMEOUT="120",
        TAMBO_CHECKPOINT_KEY=str(var_dir / "keys" / "checkpoint.pem"),
        # The clients here file hundreds of times a minute with a few accounts, and retry each
        # filing afterwards: the per-citizen filing limit (30/60 s) is not what is tested.
        TAMBO_RATE_LIMIT_FILING="100000/60",
    )
    env.update(extra)
    # The production profile refuses to start without the key that signs audit checkpoints.
    from tambo.core import keyfile

    keyfile.create(Path(env["TAMBO_CHECKPOINT_KEY"]))
    return env


def tambo(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run a ``tambo`` management command; raise with its output if it fails."""
    result = subprocess.run(
        [str(VENV_BIN / "tambo"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"tambo {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Gunicorn:
    """gunicorn with ``deploy/gunicorn.conf.py`` on a free port; ``kill9`` kills master and workers."""

    def __init__(self, env: dict[str, str], workers: int, log: Path, port: int = 0) -> None:
        self.port = port or free_port()
        self.env = {
            **env,
            "TAMBO_BIND": f"127.0.0.1:{self.port}",
            "TAMBO_WEB_WORKERS": str(workers),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 240) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "-c", str(REPO / "deploy" / "gunicorn.conf.py")],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            status, _body, _s = request(self.port, "GET", "/health/live", timeout=2)
            if status == 200:
                return
            time.sleep(0.2)
        self.kill9()  # leave no server behind
        raise AssertionError(f"gunicorn did not answer in {wait} s: {self.log.read_text()[-3000:]}")

    def workers(self) -> list[int]:
        assert self.process is not None
        result = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in result.stdout.split()]

    def kill9(self) -> None:
        """SIGKILL the master and each of its workers, by pid (nothing else is touched)."""
        assert self.process is not None
        workers = self.workers()
        os.kill(self.process.pid, signal.SIGKILL)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill9()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of a killed worker counts as gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


@dataclass
class Answer:
    status: int  # 0: no HTTP answer (connection refused, reset, timed out)
    body: Any
    seconds: float
    headers: dict[str, str]
    error: str = ""


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> tuple[int, Any, float]:
    answer = call(port, method, path, body=body, headers=headers, timeout=timeout)
    return answer.status, answer.body, answer.seconds


def call(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> Answer:
    """One HTTP request on a fresh connection; never raises for a network failure."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        content_type = response.getheader("Content-Type", "")
        parsed: Any = json.loads(raw) if "json" in content_type and raw else raw
        return Answer(
            response.status, parsed, time.monotonic() - started, dict(response.getheaders())
        )
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, None, time.monotonic() - started, {}, f"{exc.__class__.__name__}: {exc}")
    finally:
        connection.close()


def multipart(field: str, filename: str, content: bytes, media_type: str) -> tuple[bytes, str]:
    boundary = "tambofaults" + os.urandom(8).hex()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {media_type}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"
