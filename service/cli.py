"""Command line: `kairos serve` (the main job), `kairos broker` (the embedded broker alone),
`kairos keys create` (a new API key), `kairos load` / `kairos replay` (real input, service/tools),
`kairos check-policy` and `kairos preview` (the policy).

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

DEFAULT_KEYS_FILE = "kairos-api-keys.json"


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
    serve.add_argument("--policy-watch-s", type=float, help="reload the policy file when it changes, polled every "
                       "this many seconds (KAIROS_POLICY_WATCH_S; 0 = off; SIGHUP always reloads)")
    serve.add_argument("--demo", action="store_true", default=None,
                       help="without a keys file, make a development API key with every scope and print it "
                       "(KAIROS_DEMO)")
    broker = sub.add_parser("broker", help="run the embedded Tansu broker alone (for several workers)")
    broker.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    broker.add_argument("--port", type=int, default=9092, help="listen port (default 9092)")
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key: prints it once and adds its hash to the keys file")
    create.add_argument("--id", required=True, help="key id: a-z, 0-9 and '-' (e.g. ios-app)")
    create.add_argument("--scopes", required=True, help="comma-separated: ingest, reference, decide, admin, metrics")
    create.add_argument("--file", type=Path, help=f"keys file, created if missing (default: KAIROS_API_KEYS_FILE, "
                        f"else ./{DEFAULT_KEYS_FILE})")
    create.add_argument("--rate-per-s", type=float, help="this key's rate limit (default KAIROS_RATE_LIMIT_PER_S)")
    create.add_argument("--burst", type=int, help="this key's burst (default KAIROS_RATE_LIMIT_BURST)")
    from service.policy_cli import add_commands as add_policy_commands
    from service.tools.cli_input import add_commands as add_input_commands

    add_input_commands(sub)
    add_policy_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "broker":
        configure_logging("INFO")
        return run_bounded(_broker(args.host, args.port))
    if args.command == "keys":
        return _keys_create(args)
    if args.command in ("load", "replay"):
        from service.tools.cli_input import run

        return run(args)
    if args.command == "check-policy":
        from service.policy_cli import check_policy_command

        return check_policy_command(args.file)
    if args.command == "preview":
        from service.policy_cli import preview_command

        return preview_command(args)
    try:
        settings = load_settings(host=args.host, port=args.port, data_dir=args.data_dir,
                                 kafka_broker=args.kafka_broker, policy_file=args.policy_file,
                                 policy_watch_s=args.policy_watch_s, demo=args.demo)
    except SettingsError as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    code = run_bounded(_serve(settings))
    _exit_despite_stuck_threads(code)
    return code


def _keys_create(args: argparse.Namespace) -> int:
    from service.api.auth import KeysFileError, create_key

    path: Path | None = args.file
    if path is None:
        try:
            path = load_settings().api_keys_file
        except SettingsError as exc:
            print(f"kairos: {exc}", file=sys.stderr)
            return 2
    path = path or Path(DEFAULT_KEYS_FILE)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    try:
        key = create_key(path, args.id, scopes, args.rate_per_s, args.burst)
    except KeysFileError as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 2
    print(key, flush=True)
    print(f"API key {args.id!r} (scopes: {', '.join(sorted(set(scopes)))}) created and its SHA-256 added to {path}. "
          "This is the only time the key is shown: store it now. Kairos reads the file at start "
          f"(KAIROS_API_KEYS_FILE={path}).", file=sys.stderr)
    return 0


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
