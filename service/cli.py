"""Command line: `kairos serve` (the main job) and `kairos broker` (the embedded broker alone).

The only place that reads the environment (through `load_settings`) and configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from service.settings import SettingsError, load_settings
from service.telemetry.logging import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kairos", description="Kairos: context-aware decisions on a stream.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run Kairos: stream processor + HTTP API (embedded broker by default)")
    serve.add_argument("--host", help="listen address (KAIROS_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (KAIROS_PORT, default 8080)")
    serve.add_argument("--data-dir", type=Path, help="state directory (KAIROS_DATA_DIR, default ./kairos-data)")
    serve.add_argument("--kafka-broker", help="Kafka bootstrap host:port list (KAIROS_KAFKA_BROKER; "
                       "empty = embedded broker)")
    serve.add_argument("--policy-file", type=Path, help="decision policy file (KAIROS_POLICY_FILE)")
    broker = sub.add_parser("broker", help="run the embedded Tansu broker alone (for several workers)")
    broker.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    broker.add_argument("--port", type=int, default=9092, help="listen port (default 9092)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "broker":
        configure_logging("INFO")
        return run_bounded(_broker(args.host, args.port))
    try:
        settings = load_settings(host=args.host, port=args.port, data_dir=args.data_dir,
                                 kafka_broker=args.kafka_broker, policy_file=args.policy_file)
    except SettingsError as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    code = run_bounded(_serve(settings))
    _exit_despite_stuck_threads(code)
    return code


def _exit_despite_stuck_threads(code: int, grace_s: float = 5.0) -> None:
    """faust's consumer runs in a non-daemon thread; if a Kafka client in it is stuck (a broker
    that vanished), the interpreter would wait for it forever at exit. Give it `grace_s`."""
    import threading

    deadline = time.monotonic() + grace_s
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        logging.getLogger("kairos").warning("a background thread did not stop; exiting anyway")
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)


def run_bounded(main: Coroutine[Any, Any, int], teardown_s: float = 5.0) -> int:
    """Runs `main` on a uvloop loop; then gives leftover tasks `teardown_s` to finish.

    asyncio.run() would wait without bound for every leftover task, and Kafka clients abandoned
    during a shutdown against a dead broker may never finish: Kairos must exit, not hang."""
    import uvloop

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        code = loop.run_until_complete(main)
        leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=teardown_s))
        return code
    finally:
        asyncio.set_event_loop(None)
        with contextlib.suppress(RuntimeError):
            loop.close()


async def _serve(settings: object) -> int:
    from service.bootstrap import serve
    from service.settings import Settings

    assert isinstance(settings, Settings)
    return await serve(settings, announce=lambda line: print(line, flush=True))


async def _broker(host: str, port: int) -> int:
    from service.adapters.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker(host=host, port=port)
    await broker.start()
    print(f"Embedded broker (Tansu, memory only) listening on {broker.bootstrap}; "
          f"use KAIROS_KAFKA_BROKER={broker.bootstrap}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exited = asyncio.create_task(broker.wait_exit())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if exited.done():
        print(f"kairos broker: the broker exited with {exited.result()}", file=sys.stderr)
        return 1
    exited.cancel()
    await broker.stop()
    return 0
