"""Helpers for the fault tests: real child processes (gunicorn, schedulers, the CLI) on
127.0.0.1, started and stopped by the tests themselves, and senders that retry as Stripe does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import WEBHOOK_SECRET
from tests.payments.signing import signed
from tests.private_postgres import PrivateCluster, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def child_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    """The environment of a munibill child process on the test's database and instance folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        MUNIBILL_DOTENV=os.devnull,
        MUNIBILL_ENV="test",
        SECRET_KEY="f" * 40,
        MUNIBILL_INSTANCE_PATH=str(instance),
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        RATELIMIT_ENABLED="false",
    )
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    """Poll until the predicate holds; False if it never did within the time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def children(pid: int) -> list[int]:
    """The ids of the live child processes of a process (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (name) state ppid ...": the name may hold spaces, so split after its ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    """GET a path of the server on 127.0.0.1; (status, body), or (0, b"") if nothing answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int, log: Path
) -> Iterator[tuple[int, subprocess.Popen]]:
    """munibill (wsgi:app) under gunicorn with sync workers on a free port; yields (port, master)."""
    port = free_port()
    with log.open("ab") as output:
        master = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--graceful-timeout",
                "5",
                # The app is built once and forked: a worker that replaces a dead one is up at once.
                "--preload",
                # No control socket: its default path is shared by every gunicorn of the machine.
                "--no-control-socket",
                "wsgi:app",
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for(lambda: get(port, "/healthz")[0] == 200, 30), log.read_text()
        assert wait_for(lambda: len(children(master.pid)) == workers, 30), "workers did not start"
        yield port, master
    finally:
        stop(master)


def stop(process: subprocess.Popen) -> None:
    """Stop a child this test started: SIGTERM, then SIGKILL if it does not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Senders:
    """Threads posting signed webhook events the way Stripe does: an event that gets no 2xx
    (a dropped connection, a 5xx) is sent again after a pause, until it is acknowledged."""

    def __init__(self, port: int, events: list[dict], threads: int) -> None:
        self.port, self.threads = port, threads
        self.work = list(events)
        self.lock = threading.Lock()
        self.acknowledged: list[str] = []
        self.retries = 0
        self.answers: dict[int, int] = {}

    def _post(self, connection: http.client.HTTPConnection, event: dict) -> int:
        body, headers = signed(event)
        connection.request("POST", "/webhooks/stripe", body, headers)
        response = connection.getresponse()
        response.read()
        return response.status

    def _send(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while True:
            with self.lock:
                if not self.work:
                    break
                event = self.work.pop()
            while True:
                try:
                    status = self._post(connection, event)
                except (OSError, http.client.HTTPException):
                    status = 0
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                with self.lock:
                    self.answers[status] = self.answers.get(status, 0) + 1
                    if 200 <= status < 300:
                        self.acknowledged.append(event["id"])
                        break
                    self.retries += 1
                time.sleep(0.05)
        connection.close()

    def run(self, during: Callable[[], None] | None = None) -> None:
        """Send every event; `during` runs on this thread while the senders work."""
        threads = [threading.Thread(target=self._send) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        try:
            if during is not None:
                during()
        finally:
            for thread in threads:
                thread.join(timeout=120)

    @property
    def remaining(self) -> int:
        """Events no sender has taken yet."""
        with self.lock:
            return len(self.work)


def json_of(body: bytes) -> dict:
    """A JSON body as a dict ({} if it is not JSON)."""
    try:
        return json.loads(body)
    except ValueError:
        return {}


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster this test alone uses and may restart."""
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class Relay:
    """A TCP relay on 127.0.0.1 in front of a server: `down()` closes its port and cuts every
    connection through it (clients get "connection refused"), `up()` opens the same port again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener: socket.socket | None = None

    def up(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            cut, self.sockets = list(self.sockets), set()
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
