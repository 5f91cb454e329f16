"""The clients of bench/portal_bill.py (not a benchmark itself): processes that request one
path on a gunicorn server in a loop for a fixed time, what they saw (Phase), and the CPU time
the server's workers and the database's backends spent meanwhile (Meter, from /proc)."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import re
import statistics
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

#: Client processes per phase.
CLIENTS = 16


@dataclass
class Phase:
    """What the clients saw in one phase."""

    seconds: float
    latencies: list[float]
    statuses: Counter
    wrong_account: int
    client_cpu: float
    #: CPU seconds of the gunicorn workers and of the database's backends during the phase.
    server_cpu: float = 0.0
    db_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return (self.server_cpu + self.db_cpu + self.client_cpu) / len(self.latencies)

    def ms(self, percentile: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[percentile - 1] * 1000


class Meter:
    """CPU time of the gunicorn workers and the PostgreSQL backends serving the bench database."""

    def __init__(self, master: int, url: str):
        self.master, self.name = master, sa.make_url(url).database
        self.engine = sa.create_engine(sa.make_url(url).set(database="postgres"))

    @classmethod
    def _cpu(cls, pid: int) -> float:
        fields = cls._stat(str(pid))
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0

    @staticmethod
    def _stat(pid: str) -> list[str]:
        """The fields of /proc/PID/stat after the command name (state, ppid, ...)."""
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            return []

    def read(self) -> tuple[dict[int, float], dict[int, float]]:
        """CPU seconds so far of each worker and each backend."""
        children = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and self._stat(entry.name)[1:2] == [str(self.master)]
        ]
        with self.engine.connect() as connection:
            backends = connection.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.name},
            ).scalars()
            return {p: self._cpu(p) for p in children}, {p: self._cpu(p) for p in backends}

    def since(self, start) -> tuple[float, float]:
        """Worker and backend CPU seconds since an earlier read."""
        now = self.read()
        return tuple(
            sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
            for before, after in zip(start, now, strict=True)
        )


def _run(one, start_at: float, seconds: float, out) -> None:
    """Call `one()` (a request: its status and whether its answer was wrong) in a loop from
    `start_at` for `seconds`; put what was seen on `out`."""
    latencies, statuses, wrong = [], Counter(), 0
    time.sleep(max(0.0, start_at - time.time()))
    cpu, started = time.process_time(), time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        begin = time.perf_counter()
        status, mistaken = one()
        latencies.append(time.perf_counter() - begin)
        statuses[status] += 1
        wrong += mistaken
    ended = time.perf_counter()
    out.put((started, ended, latencies, statuses, wrong, time.process_time() - cpu))


def _send(port: int, method: str, path: str, headers: dict, body: str | None = None):
    """One request on a new connection (as gunicorn's sync workers close each); the response
    and its body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response, content


def client(port, path, pairs, seed, start_at, seconds, out) -> None:
    """One client: GET path (as a random session, if any) until the time is up, one connection each."""
    rng = random.Random(seed)

    def one():
        headers, marker = {}, None
        if pairs:
            cookie, number = rng.choice(pairs)
            headers["Cookie"] = cookie
            marker = f" {number} ·".encode()  # "Account N ·", or "Cuenta N ·" in Spanish
        response, body = _send(port, "GET", path, headers)
        return response.status, marker is not None and response.status == 200 and marker not in body

    _run(one, start_at, seconds, out)


def lookup_client(port, _path, codes, seed, start_at, seconds, out) -> None:
    """One resident after another typing an account number and its access code into the
    quick-pay form (POST /pay, with the form's CSRF token): each must be sent on to its bill
    (303 to /my/bill), a new session each time."""
    rng = random.Random(seed)
    form, page = _send(port, "GET", "/pay", {})
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.decode()).group(1)
    cookie = form.getheader("Set-Cookie").split(";", 1)[0]
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}

    def one():
        number, code = rng.choice(codes)
        body = urllib.parse.urlencode(
            {"csrf_token": token, "method": "code", "account": number, "code": code}
        )
        response, _ = _send(port, "POST", "/pay", headers, body)
        sent_on = response.getheader("Location", "").endswith("/my/bill")
        return response.status, response.status == 303 and not sent_on

    _run(one, start_at, seconds, out)


def load(port: int, path: str, pairs: list, seconds: float, target=client) -> Phase:
    """CLIENTS processes on one path for a fixed time (`target` is each one's loop)."""
    forked = multiprocessing.get_context("fork")
    out = forked.Queue()
    start_at = time.time() + 0.3
    procs = [
        forked.Process(target=target, args=(port, path, pairs, n, start_at, seconds, out))
        for n in range(CLIENTS)
    ]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies, statuses = [], Counter()
    for _s, _e, own, counts, _w, _c in results:
        latencies += own
        statuses += counts
    return Phase(
        seconds=max(r[1] for r in results) - min(r[0] for r in results),
        latencies=latencies,
        statuses=statuses,
        wrong_account=sum(r[4] for r in results),
        client_cpu=sum(r[5] for r in results),
    )
