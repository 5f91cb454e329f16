"""PostgreSQL restarted during a burst of counter payments: the requests it cuts off fail cleanly
(503 in the API's JSON shape, or the error page for a resident's form, never a 500 or a
traceback), the app reconnects by itself, every payment it acknowledged is kept whole, nothing
is half-written, and the ledger verifies."""

from __future__ import annotations

import http.client
import json
import threading

import flask_migrate
import pytest
import requests
import sqlalchemy as sa

from accounts.models import Account
from core import create_app
from core.audit import Actor
from core.auth import create_api_token
from core.extensions import db
from ledger.balances import account_receivable
from ledger.models import JournalEntry
from payments.models import Payment, Receipt
from tests.conftest import app_settings, csrf_token
from tests.faults.conftest import child_env, gunicorn, json_of, wait_for
from tests.faults.ledger_checks import books_whole
from tests.payments.test_webhooks import TOTAL, _town

CLERKS = 4
CENTS = 100


class Counter:
    """Clerk threads taking $1.00 cash payments through the API, and a resident using the bill
    lookup form, until told to stop."""

    def __init__(self, port: int, token: str, drawer: int, accounts: list[str]) -> None:
        self.port, self.drawer, self.accounts = port, drawer, accounts
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.receipts: list[str] = []
        self.refusals: list[tuple[int, str, bytes]] = []
        self.pages: list[tuple[int, str, str]] = []

    def _take(self, n: int) -> None:
        body = json.dumps(
            {
                "account_number": self.accounts[n % len(self.accounts)],
                "amount_cents": CENTS,
                "tender": "cash",
            }
        )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST", f"/api/v1/drawers/{self.drawer}/payments", body, self.headers
            )
            response = connection.getresponse()
            status, content, kind = (
                response.status,
                response.read(),
                response.getheader("Content-Type", ""),
            )
        finally:
            connection.close()
        with self.lock:
            if status == 201:
                self.receipts.append(json.loads(content)["number"])
            else:
                self.refusals.append((status, kind, content))

    def clerk(self, n: int) -> None:
        while not self.stopping.is_set():
            self._take(n)
            n += CLERKS

    def resident(self) -> None:
        """A resident looking a bill up with a wrong code, over and over (an HTML form)."""
        browser = requests.Session()
        url = f"http://127.0.0.1:{self.port}/pay"
        token = csrf_token(browser.get(url, timeout=30).text)
        form = {"csrf_token": token, "method": "code", "account": self.accounts[0], "code": "X"}
        while not self.stopping.is_set():
            page = browser.post(url, data=form, timeout=30, allow_redirects=False)
            with self.lock:
                self.pages.append((page.status_code, page.headers["Content-Type"], page.text))

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.receipts)


def _open_drawer(port: int, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/drawers", "{}", headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 201, body
    return json.loads(body)["id"]


@pytest.mark.postgres
@pytest.mark.slow
def test_a_database_restart_mid_burst_fails_requests_cleanly_and_loses_nothing(
    private_postgres, instance, tmp_path
):
    app = create_app(app_settings(private_postgres.url, instance))
    with app.app_context():
        flask_migrate.upgrade()
    account_ids = _town(app, 4)
    with app.app_context():
        db.session.commit()
        numbers = [db.session.get(Account, i).number for i in account_ids]
        _token, token = create_api_token(
            db.session, Actor.system("test"), name="counter", role="clerk"
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    env = child_env(private_postgres.url, instance)
    with gunicorn(env, 2, tmp_path / "gunicorn.log") as (port, _master):
        counter = Counter(port, token, _open_drawer(port, token), numbers)
        clerks = [threading.Thread(target=counter.clerk, args=(n,)) for n in range(CLERKS)]
        clerks.append(threading.Thread(target=counter.resident))
        for thread in clerks:
            thread.start()
        try:
            assert wait_for(lambda: counter.acknowledged() >= 20, 60)
            private_postgres.restart()
            restarted = counter.acknowledged()
            recovered = wait_for(lambda: counter.acknowledged() >= restarted + 20, 60)
        finally:
            counter.stopping.set()
            for thread in clerks:
                thread.join(timeout=60)
        log = (tmp_path / "gunicorn.log").read_text()
    assert recovered, f"the app did not take payments again after the restart:\n{log[-3000:]}"
    assert counter.refusals, "the restart cut off no request"
    for status, kind, content in counter.refusals:
        assert status == 503, (status, content[:2000], log[-3000:])
        assert kind.startswith("application/json")
        assert "temporarily unavailable" in " ".join(json_of(content)["errors"]["_request"])
        assert b"Traceback" not in content and b"psycopg" not in content
    assert "Traceback" not in log
    statuses = {status for status, _kind, _text in counter.pages}
    assert 503 in statuses, "the restart cut off no page"
    assert len(statuses - {503}) == 1 and statuses - {503} < {200, 422}  # the form's own answer
    for status, kind, text in counter.pages:
        if status == 503:
            assert kind.startswith("text/html") and "temporarily unavailable" in text
            assert "Traceback" not in text
    with app.app_context():
        session = db.session
        kept = set(session.scalars(sa.select(Receipt.number)))
        assert set(counter.receipts) <= kept  # every acknowledged payment is kept
        payments = session.scalars(sa.select(Payment)).all()
        receipts = session.scalar(sa.select(sa.func.count()).select_from(Receipt))
        entries = session.scalar(
            sa.select(sa.func.count()).where(JournalEntry.source_type == "payment")
        )
        assert len(payments) == receipts == entries  # no payment without its receipt and entry
        paid = len(payments) * CENTS
        owed = sum(account_receivable(session, account_id) for account_id in account_ids)
        assert owed == len(account_ids) * TOTAL - paid
        books_whole(session)
        db.session.remove()
        db.engine.dispose()
