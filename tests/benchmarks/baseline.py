"""The framework's limit: a bare aiohttp app on the same stack as Kairos, in its own process.

    python -m tests.benchmarks.baseline --port PORT --body-file decision.json

Same aiohttp (whatever this venv has, which is Kairos's), same event loop (uvloop, set up the way
`kairos serve` does in `service.cli.run_bounded`), same JSON library (orjson), no access log, the
same AppRunner/TCPSite. POST /v1/decisions reads the body, parses it with orjson and answers with
orjson.dumps of a real Kairos decision captured earlier in the run (so the body has the same
size); no auth, no state, no Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import orjson
import uvloop
from aiohttp import web


def build_app(decision: dict[str, Any]) -> web.Application:
    async def decide(request: web.Request) -> web.Response:
        req = orjson.loads(await request.read())
        body = {**decision, "customer_id": req["customer_id"]}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/decisions", decide)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(port: int, decision: dict[str, Any]) -> None:
    runner = web.AppRunner(build_app(decision), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"baseline listening on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path, required=True, help="a decision response (JSON) to answer with")
    args = parser.parse_args()
    decision = orjson.loads(args.body_file.read_bytes())
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(serve(args.port, decision))


if __name__ == "__main__":
    main()
