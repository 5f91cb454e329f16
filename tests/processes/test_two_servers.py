"""Two app servers (real gunicorn processes on two ports) on one PostgreSQL database, as behind a
proxy without sticky sessions: residents and clerks pay by card through both, every request of a
payment going to the next server in turn, while every Stripe event is delivered to both servers
(a third of them twice over), concurrently. Nothing is doubled and nothing is lost.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import sqlalchemy as sa

from billing.models import Invoice, InvoiceStatus, Settlement, SettlementKind
from core.extensions import db
from ledger.balances import account_receivable, trial_balance
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from payments.gateway import StripeGateway
from payments.models import EventStatus, Payment, PaymentStatus, Receipt, StripeEvent
from tests.billing.billing_fixtures import KEY, BilledAccount, bill_households
from tests.conftest import PASSWORD, csrf_token
from tests.payments import conftest as payments_fixtures
from tests.payments.signing import signed
from tests.payments.test_gateway import confirm_card_setup_like_stripe_js
from tests.portal.conftest import quick_pay

#: localstripe (one process per session, wiped before each test) and its Stripe settings.
localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
VISA, DECLINED = "4242424242424242", "4000000000000341"
PAYMENT_PATH = re.compile(r"/pay/(\d+)$")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(port: int, env: dict, log: Path) -> subprocess.Popen:
    """gunicorn with two sync workers serving wsgi:app on 127.0.0.1:port (no control socket:
    its default path would be shared by both servers)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                GUNICORN,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--preload",
                "--graceful-timeout",
                "2",
                "--no-control-socket",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_until_healthy(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise AssertionError(f"the server on {port} never answered:\n{log.read_text(errors='replace')}")


@dataclass
class Answer:
    status: int
    location: str
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


class Browser:
    """One person's browser behind a round-robin proxy: each request goes to the next server."""

    def __init__(self, ports: list[int], first: int) -> None:
        self.ports = ports
        self.turn = first
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form=None, body=None, token="") -> Answer:
        """Send one request to the next server in turn, with this browser's cookies."""
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body)
            headers |= {"Content-Type": "application/json", "X-CSRFToken": token}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(method, path, data, headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        location = urllib.parse.urlsplit(response.headers.get("Location", "")).path
        return Answer(response.status, location, text)

    def submit(self, path: str, form: dict) -> Answer:
        """GET a page, then POST its form with the page's CSRF token."""
        page = self.request("GET", path)
        assert page.status == 200, (path, page.status)
        return self.request("POST", path, form={**form, "csrf_token": csrf_token(page.text)})


@dataclass
class Payer:
    """Who pays what for an account, with which card, and where the first request goes."""

    who: str  # "resident" (quick pay) or "clerk" (the staff pay page)
    account: BilledAccount
    cents: int
    card: str = VISA
    first: int = 0
    together: threading.Barrier | None = None
    payment_id: int = 0
    browser: Browser | None = field(default=None, repr=False)

    @property
    def pay_path(self) -> str:
        if self.who == "resident":
            return f"/my/pay/{self.payment_id}"
        return f"/staff/accounts/{self.account.number}/pay/{self.payment_id}"


def _record_payment(payer: Payer, browser: Browser, clerk_email: str) -> str:
    """Sign in and record a pending payment through the pages; returns the card page's path."""
    if payer.who == "resident":
        found = browser.submit(
            "/pay",
            {"method": "code", "account": payer.account.number, "code": payer.account.access_code},
        )
        assert (found.status, found.location) == (303, "/my/bill"), found.text
        whole = payer.cents == payer.account.owed_cents
        form = {"choice": "all"} if whole else {"choice": "other", "amount": _dollars(payer.cents)}
        page = browser.request("GET", "/my/bill")
        recorded = browser.request(
            "POST", "/my/pay", form={**form, "csrf_token": csrf_token(page.text)}
        )
    else:
        signed_in = browser.submit("/login", {"email": clerk_email, "password": PASSWORD})
        assert signed_in.status == 302, signed_in.text
        recorded = browser.submit(
            f"/staff/accounts/{payer.account.number}/pay", {"amount": _dollars(payer.cents)}
        )
    assert recorded.status == 303, recorded.text
    return recorded.location


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _pay(payer: Payer, ports: list[int], stripe_base: str, clerk_email: str) -> int:
    """One payer's whole card payment through the pages, as pay.js does it; the charge's status."""
    browser = payer.browser = Browser(ports, payer.first)
    card_path = _record_payment(payer, browser, clerk_email)
    payer.payment_id = int(PAYMENT_PATH.search(card_path).group(1))
    card_page = browser.request("GET", card_path)
    assert card_page.status == 200, card_page.text
    token = csrf_token(card_page.text)
    if payer.together is not None:
        payer.together.wait(timeout=30)  # both payers of the account save their cards at once
    setup = browser.request("POST", f"{card_path}/setup", body={}, token=token)
    assert setup.status == 200, setup.text
    saved = confirm_card_setup_like_stripe_js(
        stripe_base, setup.json()["client_secret"], payer.card
    )
    charged = browser.request(
        "POST", f"{card_path}/charge", body={"payment_method": saved["payment_method"]}, token=token
    )
    return charged.status


class Stripe:
    """Stripe's side of webhooks: every new event to both servers, every third one twice over."""

    def __init__(self, gateway: StripeGateway, ports: list[int], secret: str) -> None:
        self.gateway, self.ports, self.secret = gateway, ports, secret
        self.seen: dict[str, dict] = {}
        self.answers: list[tuple[str, int, int]] = []
        self.work: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.random = random.Random(7)
        self.senders = [threading.Thread(target=self._send, daemon=True) for _ in range(6)]
        for sender in self.senders:
            sender.start()

    def poll(self) -> None:
        """Deliver the events that appeared since the last look, shuffled."""
        deliveries = []
        for event in self.gateway.list_events():
            if event.id not in self.seen:
                self.seen[event.id] = event.payload
                times = 2 if len(self.seen) % 3 == 0 else 1
                deliveries += [(event.payload, port) for port in self.ports] * times
        self.random.shuffle(deliveries)
        for delivery in deliveries:
            self.work.put(delivery)

    def _send(self) -> None:
        while (delivery := self.work.get()) is not None:
            event, port = delivery
            body, headers = signed(event, secret=self.secret)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/webhooks/stripe", body, headers)
                status = connection.getresponse().status
            except OSError:
                status = 0  # the server went away: counted as not answered
            finally:
                connection.close()
            with self.lock:
                self.answers.append((event["id"], port, status))

    def finish(self) -> None:
        """Deliver what is left and wait until every delivery was answered."""
        self.poll()
        self.stop()

    def stop(self) -> None:
        """Let the senders end once the deliveries queued so far are answered."""
        for _ in self.senders:
            self.work.put(None)
        for sender in self.senders:
            sender.join(timeout=60)


def _wait_until_settled(app, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            waiting = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(StripeEvent)
                .where(StripeEvent.status == EventStatus.RECEIVED)
            )
            db.session.remove()
        if waiting == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{waiting} stored events were never processed")


def _payers(billed: list[BilledAccount]) -> list[Payer]:
    """Whole bills by residents and by clerks, two bills paid half by each, one declined card."""
    payers = [Payer("resident", a, a.owed_cents, first=n % 2) for n, a in enumerate(billed[:4])]
    payers += [Payer("clerk", a, a.owed_cents, first=n % 2) for n, a in enumerate(billed[4:8])]
    for account in billed[8:10]:
        half, together = account.owed_cents // 2, threading.Barrier(2)
        payers.append(Payer("resident", account, half, first=0, together=together))
        payers.append(
            Payer("clerk", account, account.owed_cents - half, first=1, together=together)
        )
    payers.append(Payer("resident", billed[10], billed[10].owed_cents, card=DECLINED, first=1))
    return payers


@pytest.mark.postgres
@pytest.mark.slow
def test_payments_and_webhooks_at_two_servers_settle_each_payment_once_and_lose_nothing(
    app, database_url, stripe_settings, make_staff, tmp_path
):
    billed = bill_households(app, *(f"household-{n:02d}" for n in range(11)))
    clerk_email = make_staff("clerk")
    ports = [_free_port(), _free_port()]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    base_env |= stripe_settings | {
        "MUNIBILL_ENV": "production",
        "MUNIBILL_DOTENV": os.devnull,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "two-servers-share-this-secret-key-" + "s" * 16,
        "ACCESS_CODE_KEY": KEY.decode(),
    }
    servers, stripe = [], None
    try:
        for name, port in zip("AB", ports, strict=True):
            env = base_env | {"MUNIBILL_INSTANCE_PATH": str(tmp_path / f"instance-{name}")}
            log = tmp_path / f"server-{name}.log"
            servers.append((_start_server(port, env, log), port, log))
        for process, port, log in servers:
            _wait_until_healthy(port, process, log)

        payers = _payers(billed)
        stripe_base = stripe_settings["STRIPE_API_BASE"]
        with StripeGateway(
            api_key=stripe_settings["STRIPE_SECRET_KEY"], api_base=stripe_base
        ) as gateway:
            stripe = Stripe(gateway, ports, stripe_settings["STRIPE_WEBHOOK_SECRET"])
            with ThreadPoolExecutor(len(payers)) as pool:
                charged = [pool.submit(_pay, p, ports, stripe_base, clerk_email) for p in payers]
                while not all(future.done() for future in charged):
                    stripe.poll()  # events go out while other payers are still paying
                    time.sleep(0.2)
            statuses = [future.result() for future in charged]
            stripe.finish()
            intents = gateway.list_payment_intents()
        _wait_until_settled(app)
        # what each payer's status page shows, asked of both servers
        shown = {
            (p.payment_id, port_turn): p.browser.request("GET", f"{p.pay_path}/status.json")
            for p in payers
            for port_turn in range(2)
        }
    finally:
        if stripe is not None and any(sender.is_alive() for sender in stripe.senders):
            stripe.stop()
        for process, _port, _log in servers:
            process.send_signal(signal.SIGQUIT)  # gunicorn's quick shutdown
        for process, _port, _log in servers:
            process.wait(timeout=30)

    declined = payers[-1]
    paid = payers[:-1]
    assert statuses == [200] * len(paid) + [402]
    # Stripe charged each payment once: one PaymentIntent per payment of ours
    assert sorted(int(i.metadata["payment_id"]) for i in intents) == sorted(
        p.payment_id for p in payers
    )
    # every delivery to either server was answered 2xx
    assert stripe.answers and all(200 <= status < 300 for _, _, status in stripe.answers)
    assert {port for _, port, _ in stripe.answers} == set(ports)
    for (payment_id, _turn), answer in shown.items():
        state = "failed" if payment_id == declined.payment_id else "paid"
        assert (answer.status, answer.json()["state"]) == (200, state)

    with app.app_context():
        session = db.session
        # no event lost: every event Stripe sent is stored once and was processed
        events = session.scalars(sa.select(StripeEvent)).all()
        assert {e.id for e in events} == set(stripe.seen)
        assert not [e.id for e in events if e.status in (EventStatus.RECEIVED, EventStatus.FAILED)]
        assert all(
            e.status == EventStatus.PROCESSED
            for e in events
            if e.type.startswith("payment_intent.")
        )

        # each payment settled exactly once: one receipt, one ledger entry, settlements = amount
        payments = {p.id: p for p in session.scalars(sa.select(Payment))}
        # besides one payment per payer, the declined card left one pending next try for the
        # same account and amount, never sent to Stripe
        (next_try,) = (p for i, p in payments.items() if i not in {q.payment_id for q in payers})
        assert (next_try.status, next_try.amount_cents, next_try.stripe_payment_intent_id) == (
            PaymentStatus.PENDING,
            declined.cents,
            None,
        )
        assert next_try.account_id == payments[declined.payment_id].account_id
        assert {i for i, p in payments.items() if p.status == PaymentStatus.SUCCEEDED} == {
            p.payment_id for p in paid
        }
        assert payments[declined.payment_id].status == PaymentStatus.FAILED
        receipts = session.scalars(sa.select(Receipt).order_by(Receipt.number)).all()
        assert sorted(r.payment_id for r in receipts) == sorted(p.payment_id for p in paid)
        assert [int(r.number.rsplit("-", 1)[1]) for r in receipts] == list(
            range(1, len(paid) + 1)
        )  # gap-free receipt numbers, whichever server settled which payment
        entries = session.scalars(
            sa.select(JournalEntry.source_id).where(JournalEntry.source_type == "payment")
        ).all()
        assert sorted(map(int, entries)) == sorted(p.payment_id for p in paid)
        settled = dict(
            session.execute(
                sa.select(Settlement.source_id, sa.func.sum(Settlement.amount_cents))
                .where(Settlement.kind == SettlementKind.PAYMENT)
                .group_by(Settlement.source_id)
            ).all()
        )
        assert {int(k): v for k, v in settled.items()} == {p.payment_id: p.cents for p in paid}

        # every bill paid is paid in full, the declined one is still owed whole
        for account in billed:
            invoice = session.scalar(
                sa.select(Invoice).where(Invoice.number == account.invoice_number)
            )
            owed = account.owed_cents if account is declined.account else 0
            state = InvoiceStatus.OPEN if owed else InvoiceStatus.PAID
            assert (invoice.status, invoice.balance_cents) == (state, owed)
            assert account_receivable(session, invoice.account_id) == owed
        chain = verify_chain(session)
        assert chain.ok and chain.length == len(billed) + len(paid)
        report = trial_balance(session)
        assert report.total_debit_cents == report.total_credit_cents


def _through_proxy(app, resident_address: str):
    """A client whose requests come from the proxy, naming the resident in X-Forwarded-For."""
    client = app.test_client()
    client.environ_base |= {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": resident_address}
    return client


@pytest.mark.parametrize("hops", [1, 0])
def test_behind_a_trusted_proxy_each_resident_is_throttled_by_their_own_address(
    throttled, monkeypatch, hops
):
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", str(hops))
    app = throttled()
    (billed,) = bill_households(app, "olson")
    guesser = _through_proxy(app, "192.0.2.1")
    for n in range(5):  # wrong codes for five account numbers: only the address bucket empties
        assert quick_pay(guesser, f"9999999{n}", "AAAAA-AAAAA").status_code == 422
    assert quick_pay(guesser, "99999995", "AAAAA-AAAAA").status_code == 429
    neighbour = quick_pay(_through_proxy(app, "198.51.100.7"), billed.number, billed.access_code)
    # with the proxy trusted the neighbour is not held back by the guesser; without, every
    # resident shares the proxy's address and the guesser has locked quick pay for the town
    assert neighbour.status_code == (303 if hops else 429)
