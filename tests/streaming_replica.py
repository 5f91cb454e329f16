"""A real PostgreSQL primary and its streaming replica on this machine, for the replica tests.

The primary is a small cluster of its own (initdb in a temporary folder) holding a copy of the
migrated test database; the replica is a pg_basebackup -R of it, started in hot standby. Why
not a replica of the server TEST_DATABASE_URL names: its pg_hba.conf may allow no replication
connection (the cluster this was written on allows none, and adding one means editing a file
outside the repository), and a base backup copies every database of a cluster, which on a
shared server can be gigabytes. Both clusters take about 80 MB and a few seconds.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from tests.private_postgres import PrivateCluster

#: The database the primary holds (a copy of the migrated test database).
DATABASE = "munibill"
STARTUP_SECONDS = 60


@dataclass
class Clusters:
    """The two running servers: their URLs (psycopg 3) and where they live."""

    primary_url: str
    replica_url: str

    def wait_for_catch_up(self, timeout: float = 30.0) -> None:
        """Return once the replica has applied everything the primary has written so far."""
        self._wait_for("pg_last_wal_replay_lsn()", timeout, "catch up")

    def wait_for_receipt(self, timeout: float = 30.0) -> None:
        """Return once the replica has received (not necessarily applied) all the primary wrote."""
        self._wait_for("pg_last_wal_receive_lsn()", timeout, "receive the primary's changes")

    def _wait_for(self, position: str, timeout: float, what: str) -> None:
        """Poll the replica until its position reaches the primary's WAL position of now."""
        with _engine(self.primary_url) as primary:
            lsn = primary.scalar(sa.text("SELECT pg_current_wal_insert_lsn()::text"))
        query = sa.text(f"SELECT pg_wal_lsn_diff({position}, CAST(:lsn AS pg_lsn))")
        with _engine(self.replica_url) as replica:
            _until(lambda: replica.scalar(query, {"lsn": lsn}) >= 0, timeout, what)

    def pause_replay(self) -> None:
        """The replica keeps receiving but stops applying (pg_wal_replay_pause)."""
        with _engine(self.replica_url) as replica:
            replica.execute(sa.text("SELECT pg_wal_replay_pause()"))

    def resume_replay(self) -> None:
        """The replica applies again what it received."""
        with _engine(self.replica_url) as replica:
            replica.execute(sa.text("SELECT pg_wal_replay_resume()"))


@contextlib.contextmanager
def _engine(url: str) -> Iterator[sa.Connection]:
    """An autocommit connection of its own, closed afterwards."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _until(ready, timeout: float, what: str) -> None:
    """Poll ready() until it is true; fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except sa.exc.OperationalError:
            pass  # not accepting connections yet
        if time.monotonic() > deadline:
            raise TimeoutError(f"the replica did not {what} within {timeout:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def streaming_replica(source_url: str) -> Iterator[Clusters]:
    """A primary holding a copy of source_url's database, and its streaming replica, caught up."""
    primary = replica = None
    try:
        primary = PrivateCluster()
        primary.start()
        _copy_database(primary, source_url)
        replica = PrivateCluster()
        replica.replicate(primary)
        clusters = Clusters(_url(primary), _url(replica))
        _wait_for_streaming(clusters)
        yield clusters
    finally:
        for cluster in (replica, primary):
            if cluster is not None:
                cluster.destroy()


def _url(cluster: PrivateCluster) -> str:
    """The URL of the copied database on a cluster."""
    return sa.make_url(cluster.url).set(database=DATABASE).render_as_string(False)


def _copy_database(primary: PrivateCluster, source_url: str) -> None:
    """CREATE DATABASE on the primary and pg_dump the source into it (schema and rows)."""
    with _engine(primary.url) as admin:
        admin.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    source = sa.make_url(source_url).set(drivername="postgresql").render_as_string(False)
    dump = subprocess.run(
        [str(primary.bin / "pg_dump"), "--no-owner", "--no-privileges", source],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    target = sa.make_url(_url(primary)).set(drivername="postgresql").render_as_string(False)
    subprocess.run(
        [str(primary.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", target],
        input=dump,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _wait_for_streaming(clusters: Clusters) -> None:
    """Until the replica is in recovery, its WAL receiver streams, and it has caught up."""

    def streaming() -> bool:
        with _engine(clusters.replica_url) as replica:
            return bool(
                replica.scalar(
                    sa.text(
                        "SELECT pg_is_in_recovery() AND EXISTS "
                        "(SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')"
                    )
                )
            )

    _until(streaming, STARTUP_SECONDS, "start streaming")
    clusters.wait_for_catch_up(STARTUP_SECONDS)
