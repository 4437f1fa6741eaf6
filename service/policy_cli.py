"""Command line for the policy: `kairos check-policy FILE` and `kairos preview` (edge layer).

preview shows what a customer would see under a policy before it goes live: the same
`decide` the endpoint runs, on her state (from a running Kairos's admin route, or a file) and
reference data (NDJSON files, default the bundled demo catalog), with no side effects — no
audit record is written and nothing is counted against her contact budget.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson

from service.core.opening_hours import store_open_at
from service.core.reference import ReferenceData, apply_reference_event
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

API_KEY_ENV = "KAIROS_API_KEY"


def add_commands(sub: Any) -> None:
    check = sub.add_parser("check-policy", help="check a policy file: every error with its line; exit 1 if invalid")
    check.add_argument("file", type=Path, help="policy file (YAML or JSON)")
    preview = sub.add_parser("preview", help="show the decision a customer would get under a policy (no side effects)")
    preview.add_argument("--customer", required=True, help="customer id")
    preview.add_argument("--policy", type=Path, required=True, help="policy file to preview (YAML or JSON)")
    preview.add_argument("--placement", default="app.home", help="placement, e.g. app.home, app.product, web.home")
    preview.add_argument("--device", default="phone", choices=["phone", "tablet", "web"], help="device type")
    preview.add_argument("--device-id", default="preview-device", help="device id (resume needs another device)")
    preview.add_argument("--locale", help="locale the app shows, e.g. de-DE")
    preview.add_argument("--location", help="device location 'lat,lon'")
    preview.add_argument("--product", help="product on screen (app.product)")
    preview.add_argument("--store", help="store the app believes she is in")
    preview.add_argument("--at", help="decide as of this RFC 3339 time (default: now)")
    preview.add_argument("--url", default="http://127.0.0.1:8080", help="running Kairos to read her state from")
    preview.add_argument("--api-key", help=f"admin-scope API key for --url (default: ${API_KEY_ENV})")
    preview.add_argument("--state", type=Path, help="read her state record from this JSON file instead of --url")
    preview.add_argument("--reference", type=Path, action="append",
                         help="reference events (NDJSON); repeatable; default: the bundled demo catalog")
    preview.add_argument("--json", action="store_true", help="print the decision as JSON")


def check_policy_command(path: Path) -> int:
    from service.bootstrap import read_policy_file

    loaded = read_policy_file(path)
    for problem in loaded.problems:
        print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
    if loaded.policy is None:
        print(f"{path}: invalid: {len(loaded.errors)} error(s)", file=sys.stderr)
        return 1
    policy = loaded.policy
    warnings = len(loaded.problems)
    print(f"{path}: valid: policy {policy.version}, {len(policy.screens)} screens, {len(policy.blocks)} blocks, "
          f"{len(policy.incentives)} incentives, {len(policy.triggers)} triggers, locales "
          f"{', '.join(policy.texts)}" + (f", {warnings} warning(s)" if warnings else ""))
    return 0


def fetch_state(url: str, customer: str, key: str | None) -> dict[str, Any] | None:
    """Her state record from a running Kairos (GET /admin/customers/{id}/state), None if unknown."""
    if not key:
        raise PreviewError(f"reading her state from {url} needs an admin-scope API key: --api-key or ${API_KEY_ENV}")
    target = f"{url.rstrip('/')}/admin/customers/{urllib.parse.quote(customer, safe='')}/state"
    request = urllib.request.Request(target, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise PreviewError(f"{target} answered {exc.code}: {exc.read()[:300].decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PreviewError(f"cannot reach {target}: {getattr(exc, 'reason', exc)}") from None
    record = orjson.loads(body)
    return record if isinstance(record, dict) else None


class PreviewError(Exception):
    """Preview cannot run; the message says what to do."""


def load_reference(paths: list[Path]) -> ReferenceData:
    ref = ReferenceData(open_check=store_open_at)
    for path in paths:
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise PreviewError(f"{path}:{n}: not JSON: {exc}") from None
            for event in parsed if isinstance(parsed, list) else [parsed]:
                apply_reference_event(ref, event)
    return ref


def _request(args: argparse.Namespace) -> dict[str, Any]:
    req: dict[str, Any] = {"customer_id": args.customer, "placement": args.placement,
                           "device": {"id": args.device_id, "type": args.device}}
    if args.locale:
        req["locale"] = args.locale
    if args.location:
        lat, _, lon = args.location.partition(",")
        req["location"] = {"lat": float(lat), "lon": float(lon)}
    if args.product:
        req["product_id"] = args.product
    if args.store:
        req["store_id"] = args.store
    return req


def summary(decision: dict[str, Any]) -> str:
    lines = [f"screen {decision['screen']} (layout {decision['layout']}, locale {decision['locale']}, "
             f"policy {decision['policy_version']}, as of {decision['decided_at']})"]
    for block in decision["blocks"]:
        items = ", ".join(f"{i.get('name', i['product_id'])} [{i.get('score', '-')}]" for i in block["items"])
        extra = [k for k in ("theme", "details", "variants", "stores", "store", "resume") if k in block]
        lines.append(f"  {block['id']} ({block['kind']}): {items or '-'}" + (f"  +{', '.join(extra)}" if extra else ""))
    inc = decision["incentive"]
    lines.append("incentive: " + ("none" if inc is None else f"{inc['id']} ({inc['kind']}): {inc['reason']}"))
    lines.append("reasons:")
    lines.extend(f"  {r['code']}: {r['detail']}" for r in decision["reasons"])
    return "\n".join(lines)


def preview_command(args: argparse.Namespace) -> int:
    from service.adapters.clock import SystemClock
    from service.api.request_validation import RequestValidator
    from service.bootstrap import DEMO_CATALOG, read_policy_file, schema_dir
    from service.core.decide import decide
    from service.core.state import StateFormatError, decode_state

    loaded = read_policy_file(args.policy)
    if loaded.policy is None:
        for problem in loaded.errors:
            print(problem, file=sys.stderr)
        print(f"{args.policy}: invalid; nothing to preview (kairos check-policy {args.policy})", file=sys.stderr)
        return 2
    try:
        req = _request(args)
        errors = RequestValidator.from_directory(schema_dir(), "decision_request.schema.json").validate(req)
        if errors:
            raise PreviewError("; ".join(f"{e.pointer}: {e.reason}" for e in errors))
        now_ms = parse_rfc3339_ms(args.at) if args.at else SystemClock().now_ms()
        state: dict[str, Any] | None
        if args.state is not None:
            state = decode_state(args.state.read_bytes())
        else:
            raw = fetch_state(args.url, args.customer, args.api_key or os.environ.get(API_KEY_ENV))
            state = None if raw is None else decode_state(orjson.dumps(raw))
        ref = load_reference(args.reference or [DEMO_CATALOG])
    except (PreviewError, StateFormatError, ValueError, OSError) as exc:
        print(f"kairos preview: {exc}", file=sys.stderr)
        return 2
    # The same decide the endpoint runs; nothing is written anywhere.
    decision = decide(state, req, ref, loaded.policy, now_ms, str(uuid.uuid4()))
    if args.json:
        print(json.dumps(decision, indent=2, ensure_ascii=False))
    else:
        known = "unknown (cold start)" if state is None else f"state as of {decision['state_as_of']}"
        print(f"customer {args.customer}: {known}, at {format_rfc3339_ms(now_ms)}")
        print(summary(decision))
    return 0
