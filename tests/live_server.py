"""The app served on 127.0.0.1 for tests that need a real HTTP server (localstripe posts its
webhooks to it, Chromium browses it): werkzeug's threaded server, made to close every answer.

The webhook endpoint settles a success when the server closes the answer (PEP 3333 has the
server close it however the request ended; gunicorn, which serves the app in production,
does). werkzeug's server reads what the client may still send before closing the answer, and
a client that resets the connection during that read (localstripe does, now and then, when it
closes without reading the answer's body) makes it skip the close and drop the error
silently: the event stays stored and the payment pending. The handler here closes the answer
in that case too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server

#: Where the answer of a request is kept in its WSGI environ, for the handler to close.
ANSWER = "munibill.tests.answer"


class _Answer:
    """The app's answer, closed once whoever closes it first (the server or the handler)."""

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self._iterable = iterable
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._iterable)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._iterable, "close", None)
        if close is not None:
            close()


def _keeping_the_answer(app: Callable) -> Callable:
    """The WSGI app, its answer kept in the environ."""

    def wsgi(environ: dict, start_response: Callable):
        answer = _Answer(app(environ, start_response))
        environ[ANSWER] = answer
        return answer

    return wsgi


class ClosingRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, closing the answer of a request whose client dropped the connection."""

    def connection_dropped(self, error: BaseException, environ: dict | None = None) -> None:
        answer = (environ or {}).get(ANSWER)
        if answer is not None:
            answer.close()
        super().connection_dropped(error, environ)


@contextmanager
def serve(app: Callable) -> Iterator[str]:
    """Serve the app on a free port of 127.0.0.1 while the block runs; yields its address."""
    server = make_server(
        "127.0.0.1",
        0,
        _keeping_the_answer(app),
        threaded=True,
        request_handler=ClosingRequestHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
