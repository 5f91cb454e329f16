"""PostgreSQL clusters of a test's own: initdb into a temporary folder, served on a free port
of 127.0.0.1 with the Debian server programs (tests/faults restart one; tests/core/
test_replica.py streams one to a replica)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (the newest installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class PrivateCluster:
    """A PostgreSQL cluster of the test's own (initdb into a temporary folder, a free port), so
    that it can be restarted without touching anybody else's server. initdb and postgres refuse
    to run as root, so as root they run as the `postgres` user."""

    def __init__(self) -> None:
        found = postgres_bin()
        assert found, "PostgreSQL's server programs are not installed under /usr/lib/postgresql"
        self.bin = found
        self.folder = Path(tempfile.mkdtemp(prefix="munibill-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{program} failed: {done.stdout}{done.stderr}"

    def start(self) -> None:
        """initdb (trust on 127.0.0.1 only, replication included) and serve."""
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.serve()

    def serve(self) -> None:
        """Start the server on the data folder and port; returns once it answers."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def replicate(self, primary: PrivateCluster) -> None:
        """Make this cluster a streaming replica of primary (pg_basebackup -R) and serve it."""
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
            timeout=120,
        )  # fmt: skip
        self.serve()

    def restart(self) -> None:
        """A fast restart: every connection is cut, open transactions are rolled back."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart"
        )

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def destroy(self) -> None:
        """Stop the server and remove its folder."""
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
