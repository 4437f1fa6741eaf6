"""A TLS-terminating TCP proxy on 127.0.0.1 for the TLS test: clients speak TLS to it, it speaks
plaintext to the broker behind it, and it counts handshakes that succeeded and failed.

Blocking sockets and a thread per direction: a handful of connections, and every handshake
failure is seen (asyncio's TLS server drops them silently outside debug mode)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass, field


@dataclass
class TlsProxy:
    listen_port: int
    upstream_port: int
    context: ssl.SSLContext
    handshakes: int = 0
    failed_handshakes: int = 0
    _server: socket.socket | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TlsProxy:
        server = socket.create_server(("127.0.0.1", self.listen_port))
        server.settimeout(0.2)
        self._server = server
        threading.Thread(target=self._accept, name="tls-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        if self._server is not None:
            self._server.close()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            with self._lock:
                self.failed_handshakes += 1
            conn.close()
            return
        with self._lock:
            self.handshakes += 1
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            tls.close()
            return
        tls.settimeout(None)
        upstream.settimeout(None)
        with self._lock:
            self._sockets += [tls, upstream]
        threading.Thread(target=_pipe, args=(upstream, tls), daemon=True).start()
        _pipe(tls, upstream)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()
