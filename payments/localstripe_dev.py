"""A real localstripe server in a child process, on 127.0.0.1 only (tests and `munibill demo serve`).

Development aid only: localstripe is a dev/demo dependency, imported in the
child process alone. Tests start it with fresh state; the demo keeps its
state across restarts (`persist=True`), so Stripe customers stored by the
demo town stay valid.

localstripe keeps its whole store in one pickle at the hard-coded path
/tmp/localstripe.pickle: it loads it at start-up unless told `--from-scratch`,
and it rewrites it after every stored object and every POST/PUT/DELETE, even
when started from scratch. A private working directory therefore does not
help. The child process below replaces the two persistence methods of
localstripe's Store with no-ops before serving, so a run neither loads nor
leaves a pickle, and several runs can share the machine.

The parent binds the listening socket itself (127.0.0.1, a free port chosen by
the kernel) and hands it to the child, so there is no race for the port and
localstripe never listens on other interfaces (its own `start()` binds `::`).

Besides localstripe's own `/_config/...` routes, the child serves one more:
`DELETE /_config/webhooks` forgets every registered webhook endpoint
(`DELETE /_config/data` empties the objects but keeps the webhooks).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

#: How long a request to the control routes may take.
_HTTP_TIMEOUT = 5.0


class LocalStripeError(RuntimeError):
    """localstripe did not start, stop or answer as expected."""


class LocalStripeServer:
    """One localstripe child process; `start()` returns its base URL."""

    def __init__(self, workdir: Path, startup_timeout: float = 20.0, persist: bool = False) -> None:
        """Remember where the child keeps its log and how long it may take to answer."""
        self.workdir = Path(workdir)
        self.persist = persist
        self.startup_timeout = startup_timeout
        self.log_path = self.workdir / "localstripe.log"
        self.base_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the child on a free 127.0.0.1 port and wait until it answers."""
        if self._process is not None:
            raise LocalStripeError("localstripe is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            port = listener.getsockname()[1]
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--fd",
                        str(listener.fileno()),
                        *(["--persist"] if self.persist else []),
                    ],
                    pass_fds=[listener.fileno()],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                )
        self.base_url = f"http://127.0.0.1:{port}"
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_until_answering(self) -> None:
        """Poll the Stripe.js stand-in until the child serves it."""
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LocalStripeError(f"localstripe exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/js.stripe.com/v3/", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise LocalStripeError(
                        f"localstripe did not answer within {self.startup_timeout}s:\n{self.log()}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Ask the child to shut down (SIGTERM), kill it if it will not, and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What the child wrote to its log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> LocalStripeServer:
        """Start on entering a `with` block."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving a `with` block."""
        self.stop()


def control(base_url: str, method: str, path: str, body: dict | None = None) -> int:
    """Call one of localstripe's `/_config/` routes; returns the HTTP status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
            return response.status
    except urllib.error.HTTPError as error:
        with contextlib.closing(error):
            raise LocalStripeError(f"{method} {path} answered {error.code}") from None


def wipe(base_url: str) -> None:
    """Forget every object and every webhook endpoint."""
    control(base_url, "DELETE", "/_config/data")
    control(base_url, "DELETE", "/_config/webhooks")


def register_webhook(
    base_url: str, name: str, url: str, secret: str, events: list[str] | None = None
) -> None:
    """Have localstripe post events (all, or only `events`) to `url`, signed with `secret`."""
    body: dict = {"url": url, "secret": secret}
    if events is not None:
        body["events"] = events
    control(base_url, "POST", f"/_config/webhooks/{name}", body)


def _serve(listen_fd: int, persist: bool = False) -> None:
    """Child side: neutralise persistence, add the control route, serve on the inherited socket."""
    import logging

    from aiohttp import web
    from localstripe import resources, server, webhooks

    def no_disk(_store: object) -> None:
        """Neither read nor write /tmp/localstripe.pickle."""

    async def forget_webhooks(_request: web.Request) -> web.Response:
        """DELETE /_config/webhooks: unregister every webhook endpoint."""
        webhooks._webhooks.clear()
        return web.Response()

    if not persist:
        resources.Store.try_load_from_disk = no_disk
        resources.Store.dump_to_disk = no_disk
        resources.store.clear()
    server.app.router.add_delete("/_config/webhooks", forget_webhooks)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    listener = socket.socket(fileno=listen_fd)
    web.run_app(server.app, sock=listener, print=None, handle_signals=True)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[1] != "--fd":
        sys.exit("usage: localstripe_dev.py --fd LISTENING_SOCKET_FD [--persist]")
    _serve(int(sys.argv[2]), persist=sys.argv[3:] == ["--persist"])
