"""A TCP proxy on 127.0.0.1 between the Stripe SDK and localstripe that can lose Stripe's answer.

Each request is read whole and forwarded to localstripe, which acts on it; for a request the
test has armed the proxy for, the answer is then thrown away and the caller's connection
closed, as when a network drops the answer of a charge Stripe has made.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable

#: Headers that describe one hop of the connection, not the message.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def _read_request(reader) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    """(method, path, headers, body) of the next request on the connection; None at its end."""
    line = reader.readline()
    if not line.strip():
        return None
    method, path, _version = line.decode("latin-1").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
    return method, path, headers, reader.read(length) if length else b""


class AnswerDropper:
    """Forwards every request to localstripe; loses the answer of the next `drop` requests that
    `matches(method, path, body)` picks, after localstripe has acted on them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.matches: Callable[[str, str, bytes], bool] = lambda *_request: False
        self.drop = 0
        self.dropped: list[tuple[str, str]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_answers(self, matches: Callable[[str, str, bytes], bool], times: int = 1) -> None:
        """Lose the answers of the next `times` requests the predicate picks."""
        with self.lock:
            self.matches, self.drop = matches, times

    def close(self) -> None:
        """Stop taking connections."""
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _to_drop(self, method: str, path: str, body: bytes) -> bool:
        with self.lock:
            if self.drop > 0 and self.matches(method, path, body):
                self.drop -= 1
                self.dropped.append((method, path))
                return True
        return False

    def _serve(self, client: socket.socket) -> None:
        upstream = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=30)
        reader = client.makefile("rb")
        try:
            while (request := _read_request(reader)) is not None:
                method, path, headers, body = request
                drop = self._to_drop(method, path, body)
                sent = {n: v for n, v in headers if n.lower() not in HOP_BY_HOP | {"host"}}
                upstream.request(method, path, body=body or None, headers=sent)
                answer = upstream.getresponse()
                data = answer.read()  # localstripe has acted on the request by now
                if drop:
                    return
                lines = [f"HTTP/1.1 {answer.status} {answer.reason}"]
                lines += [
                    f"{n}: {v}" for n, v in answer.getheaders() if n.lower() not in HOP_BY_HOP
                ]
                lines += [f"Content-Length: {len(data)}", "Connection: keep-alive", "", ""]
                client.sendall("\r\n".join(lines).encode("latin-1") + data)
        except OSError:
            pass
        finally:
            upstream.close()
            reader.close()
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
