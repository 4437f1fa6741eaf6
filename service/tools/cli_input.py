"""Command line for real input: `kairos load stores|catalog FILE…` and `kairos replay FILE…`.

Both read files locally and send the events through a running Kairos's POST /v1/events (the
ingest path), or write them as NDJSON with --out (e.g. to feed a Kafka producer of your own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from service.adapters.mapping_file import load_mapping_file
from service.loaders.catalog import SEED, catalog_events, incentives_from_offers
from service.loaders.stores import StoreDefaults, first_polygon
from service.settings import SettingsError
from service.tools.api_key import resolve_key
from service.tools.files import DATA_DIR, FileEvents, Options, read_file

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_OCCURRED_AT = "2026-01-01T00:00:00Z"


def _send_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=DEFAULT_URL, help=f"Kairos to send to (default {DEFAULT_URL})")
    p.add_argument("--key", help="API key with the ingest scope (default: KAIROS_API_KEY, else the file "
                   "KAIROS_API_KEY_FILE names, else <data dir>/dev-api-key written by `kairos serve --demo`)")
    p.add_argument("--key-file", type=Path, help="file holding the API key (instead of --key: not in the shell's "
                   "history or the process list)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("KAIROS_DATA_DIR", "./kairos-data")))
    p.add_argument("--out", type=Path, help="write the events as NDJSON to this file instead of sending them")
    p.add_argument("--batch", type=int, default=500, help="events per request (default 500)")


def add_commands(sub: Any) -> None:
    load = sub.add_parser("load", help="load stores or the catalog into a running Kairos")
    load_sub = load.add_subparsers(dest="load_command", required=True)
    stores = load_sub.add_parser("stores", help="GeoJSON points/polygons (OSM shops) or Radar geofences → stores")
    stores.add_argument("files", nargs="+", type=Path)
    stores.add_argument("--radius-m", type=float, default=50.0, help="fence radius of a point store (default 50)")
    stores.add_argument("--id", help="store id (a file with one store)")
    stores.add_argument("--name", help="store name (a file with one store)")
    stores.add_argument("--kind", help="what the store sells, e.g. clothes")
    stores.add_argument("--opening-hours", help="OSM opening_hours (a file with one store)")
    stores.add_argument("--geofence", type=Path, help="GeoJSON file whose first polygon is the store's fence")
    _send_args(stores)
    catalog = load_sub.add_parser("catalog", help="retail demo store products.yaml → products and stock (derived)")
    catalog.add_argument("products", type=Path)
    catalog.add_argument("--categories", type=Path, help="categories.yaml (products of other categories are refused)")
    catalog.add_argument("--offers", type=Path, help="offers.json → incentives (written to --incentives-out)")
    catalog.add_argument("--incentives-out", type=Path, default=Path("incentives.json"))
    catalog.add_argument("--store", action="append", default=None, help="store id to derive stock for (repeat)")
    catalog.add_argument("--seed", type=int, default=SEED)
    catalog.add_argument("--per-category", type=int, help="at most this many products per category")
    catalog.add_argument("--all-categories", action="store_true",
                         help="not only apparel, footwear, accessories, jewelry")
    _send_args(catalog)
    replay = sub.add_parser("replay", help="feed real input files through the ingest path (see docs/INPUT.md)")
    replay.add_argument("files", nargs="+", type=Path)
    replay.add_argument("--speed", type=float, help="real-time pace factor (1 = as recorded, 60 = a minute per "
                        "second); default: as fast as possible")
    replay.add_argument("--rebase-time", action="store_true",
                        help="re-time each file's customer events to now: with --speed, each happens when it is "
                        "sent; without, the recording's spacing ends now (docs/INPUT.md)")
    replay.add_argument("--mapping", type=Path, help="identity/place mapping file for provider payloads")
    replay.add_argument("--customer", help="customer id for a GeoJSON route (a walk)")
    replay.add_argument("--walk-step-s", type=float, default=20.0,
                        help="seconds between a walk's positions (default 20; the last one is now)")
    replay.add_argument("--kafka-broker", default=os.environ.get("KAIROS_KAFKA_BROKER"),
                        help="broker host:port to count notifications on (the embedded one is printed at start)")
    replay.add_argument("--topic-prefix", default=os.environ.get("KAIROS_TOPIC_PREFIX", ""))
    _send_args(replay)


def _now_ms() -> int:
    from service.adapters.clock import SystemClock

    return SystemClock().now_ms()


def run(args: argparse.Namespace) -> int:
    key = None
    try:
        if args.out is None:  # before reading: a missing key should not wait for a big file
            key = resolve_key(args.key, args.key_file, args.data_dir, os.environ)
    except SettingsError as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 1
    try:
        files = _read(args)
    except (SettingsError, ValueError, OSError) as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 2
    for f in files:
        print(describe(f, mapping_given=getattr(args, "mapping", None) is not None), file=sys.stderr)
    if args.out is not None:
        events = [e for f in files for e in f.events]
        args.out.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
        print(f"wrote {len(events)} events to {args.out}", file=sys.stderr)
        return 0
    from aiohttp import ClientConnectorError
    from rich.console import Console

    from service.tools.replay import replay

    assert key is not None
    console = Console(stderr=True)
    print(f"sending to {args.url} with the API key from {key.source}", file=sys.stderr)
    try:
        speed = getattr(args, "speed", None)
        rebase = bool(getattr(args, "rebase_time", False))
        prefix = getattr(args, "topic_prefix", "")
        topic = f"{prefix}.kairos.notifications.v1" if prefix else "kairos.notifications.v1"
        summary = asyncio.run(replay(files, args.url, key, speed, rebase, args.batch,
                                     getattr(args, "kafka_broker", None), topic, console, _now_ms))
    except ClientConnectorError as exc:
        print(f"kairos: cannot reach Kairos at {args.url} ({exc.strerror or exc}): start it (./scripts/serve.sh) "
              "or pass --url", file=sys.stderr)
        return 1
    except (SettingsError, RuntimeError, OSError) as exc:
        print(f"kairos: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


def describe(f: FileEvents, mapping_given: bool = True) -> str:
    """One line per file (and one per warning): its kind and what it gave, with the main reasons."""
    parts = [f"{len(f.events)} events"]
    for label, counter in (("ignored", f.ignored), ("unmapped", f.unmapped), ("rejected", f.rejected)):
        if counter:
            reason, _n = counter.most_common(1)[0]
            parts.append(f"{sum(counter.values())} {label} (e.g. {reason})")
    line = f"{f.path}: {f.kind}, " + "; ".join(parts)
    if f.unmapped and not mapping_given:
        line += "; no --mapping given: provider users and devices are mapped to customers by a mapping file " \
                "(docs/INPUT.md)"
    return "\n".join([line, *(f"{f.path}: warning: {w}" for w in list(f.warnings)[:5])])


def _read(args: argparse.Namespace) -> list[FileEvents]:
    if args.command == "replay":
        if args.speed is not None and not args.speed > 0:
            raise ValueError(f"--speed must be a positive number (1 = as recorded), not {args.speed:g}")
        if not args.walk_step_s > 0:
            raise ValueError(f"--walk-step-s must be a positive number of seconds, not {args.walk_step_s:g}")
        opts = Options(mapping=load_mapping_file(args.mapping), customer=args.customer,
                       walk_end_ms=_now_ms(),
                       walk_step_ms=int(args.walk_step_s * 1000), products=_demo_products())
        return [read_file(path, opts) for path in args.files]
    if args.load_command == "stores":
        polygon = first_polygon(json.loads(args.geofence.read_text())) if args.geofence else None
        defaults = StoreDefaults(radius_m=args.radius_m, store_id=args.id, name=args.name, kind=args.kind,
                                 opening_hours=args.opening_hours, geofence=polygon)
        files = [read_file(path, Options(store_defaults=defaults, occurred_at=DEFAULT_OCCURRED_AT))
                 for path in args.files]
        for f in files:
            if f.kind not in ("geojson-stores", "radar-geofences"):
                raise ValueError(f"{f.path}: a {f.kind} file, not stores")
            for problem in f.rejected:
                print(f"{f.path}: {problem}", file=sys.stderr)
        return files
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # safe; the C one when built
    products = yaml.load(args.products.read_text(), Loader=loader)
    categories = yaml.load(args.categories.read_text(), Loader=loader) if args.categories else None
    load = catalog_events(products, categories, DEFAULT_OCCURRED_AT, args.store or ["store-london-01"], seed=args.seed,
                          only=None if args.all_categories else ("apparel", "footwear", "accessories", "jewelry"),
                          per_category=args.per_category)
    for problem in load.problems[:20]:
        print(f"{args.products}: {problem}", file=sys.stderr)
    if args.offers:
        incentives = incentives_from_offers(json.loads(args.offers.read_text()))
        args.incentives_out.write_text(json.dumps(incentives, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {len(incentives)} incentives to {args.incentives_out}", file=sys.stderr)
    return [FileEvents(args.products, "catalog", load.events)]


def _demo_products() -> tuple[tuple[str, float], ...]:
    """(product id, price) of the bundled demo catalog: clickstream views are attributed to these."""
    out = []
    for line in (DATA_DIR / "demo_catalog.ndjson").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event.get("type") == "product.upserted":
            out.append((event["product_id"], float(event["price"])))
    return tuple(out)
