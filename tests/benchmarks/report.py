"""Turns results.json into the terminal table and the BENCHMARKS.md-ready markdown."""

from __future__ import annotations

from typing import Any

KIB = 1024
# A fixed-rate run is "saturated" (the worker cannot serve that rate: the figures are queueing, not
# service time) when it achieved under 95 % of its target rate or its median is above this.
SATURATED_ACHIEVED = 0.95
SATURATED_P50_MS = 100.0


def saturated(res: dict[str, Any]) -> bool:
    target, achieved = res.get("target_rate"), res.get("achieved_rate")
    p50 = _g(res, "latency_ms", "p50")
    return bool((target and achieved is not None and achieved < SATURATED_ACHIEVED * target)
                or (p50 is not None and p50 > SATURATED_P50_MS))


def _g(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.{digits}f}{unit}"
    return f"{int(value):,}{unit}"


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, limit, measured, met) for every target of the issue that this run measured."""
    out: list[tuple[str, str, str, bool | None]] = []

    def add(name: str, limit: str, value: Any, ok: bool | None, unit: str = "") -> None:
        out.append((name, limit, _fmt(value, unit), ok if value is not None else None))

    p99 = _g(r, "fixed_rate", "idle", "1000", "latency_ms", "p99")
    add("decision p99 at 1,000 req/s", "≤ 2 ms", p99, p99 is not None and p99 <= 2, " ms")
    p99i = _g(r, "fixed_rate", "ingesting", "1000", "latency_ms", "p99")
    add("decision p99 at 1,000 req/s while ingesting 2,000 events/s", "≤ 5 ms", p99i, p99i is not None and p99i <= 5,
        " ms")
    ratio = _g(r, "peak", "ratio")
    add("peak /v1/decisions vs bare aiohttp", "≥ 50 %", None if ratio is None else round(ratio * 100, 1),
        ratio is not None and ratio >= 0.5, " %")
    single = _g(r, "stream_single", "applied_events_per_s")
    add("stream (a) one event per message", "≥ 4,000 events/s", single, single is not None and single >= 4000)
    ingest = _g(r, "stream_ingest", "batched", "applied_events_per_s")
    add("stream (b) through Kairos's ingest", "≥ 10,000 events/s", ingest, ingest is not None and ingest >= 10_000)
    for fr in _freshness_runs(r):
        load = _load_text(fr)
        name = f"freshness p99 ({load})"
        fresh = _g(fr, "from_accepted_ms", "p99")
        if fr.get("not_seen") and fr.get("probes"):
            # Probes never seen are slower than any seen one: if they are over 1 %, p99 is beyond the timeout.
            if fr["not_seen"] > 0.01 * fr["probes"]:
                out.append((name, "≤ 250 ms", f"> {fr['not_seen_within_s'] * 1000:,.0f} ms ({fr['not_seen']} "
                            f"of {fr['probes']} not seen within {fr['not_seen_within_s']:g} s)", False))
            else:
                add(name, "≤ 250 ms", fresh, False, f" ms (+{fr['not_seen']} not seen)")
        else:
            add(name, "≤ 250 ms", fresh, fresh is not None and fresh <= 250, " ms")
    sizes = [m["state_bytes_mean"] for m in (r.get("memory") or {}).values() if m.get("state_bytes_mean")]
    mean = max(sizes) if sizes else None
    add("serialized state per customer (mean)", "≤ 2 KiB", mean, mean is not None and mean <= 2 * KIB, " B")
    scaling = r.get("scaling") or {}
    for rate in ("500", "1000"):
        small, large = _g(scaling, "10000", f"p99_ms_{rate}"), _g(scaling, "1000000", f"p99_ms_{rate}")
        if small is not None and large is not None:
            flat = large <= max(small * 1.25, small + 0.3)
            out.append((f"decision p99 flat 10k → 1M customers ({int(rate):,} req/s)", "within 25 % or 0.3 ms",
                        f"{small:.2f} → {large:.2f} ms", flat))
    return out


def _freshness_runs(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Freshness runs, one per background load (an older results.json held a single run)."""
    fr = r.get("freshness") or {}
    if "probes" in fr:
        return [fr]
    return [run for run in fr.values() if isinstance(run, dict)]


def _load_text(fr: dict[str, Any]) -> str:
    bg = fr.get("background") or {"decisions_per_s": 1000, "events_per_s": 2000}
    return f"{bg['decisions_per_s']:,} decisions/s + {bg['events_per_s']:,} events/s"


def render_table(r: dict[str, Any]) -> str:
    lines = ["", f"{'target':<62} {'limit':<22} {'measured':<18} met"]
    for name, limit, measured, ok in targets(r):
        lines.append(f"{name:<62} {limit:<22} {measured:<18} {'-' if ok is None else ('yes' if ok else 'NO')}")
    fixed = r.get("fixed_rate") or {}
    if fixed:
        lines.append("")
        lines.append(f"{'decisions (client-side, ms)':<40} {'achieved':>9} {'p50':>8} {'p99':>8} {'p99.9':>8} "
                     f"{'max':>8} {'cpu':>6}")
        for label in ("idle", "ingesting"):
            for rate, res in (fixed.get(label) or {}).items():
                lat = res["latency_ms"]
                head = f"{f'{rate} req/s {label}':<40} {res.get('achieved_rate', 0):>9.0f}"
                if saturated(res):
                    lines.append(f"{head} saturated (p50 {lat.get('p50', 0):,.0f} ms: queueing, not service time)")
                    continue
                lines.append(f"{head} {lat.get('p50', 0):>8.2f} {lat.get('p99', 0):>8.2f} "
                             f"{lat.get('p99.9', 0):>8.2f} {lat.get('max', 0):>8.2f} {res.get('worker_cpu', 0):>6.2f}")
    for line in recovery_lines(r):
        lines.append(line)
    for name, detail in (r.get("errors") or {}).items():
        lines.append(f"FAILED {name}: {detail}")
    return "\n".join(lines)


def recovery_lines(r: dict[str, Any]) -> list[str]:
    rec = r.get("recovery") or {}
    if not rec:
        return []
    out = ["", f"recovery ({_fmt(rec.get('customers'))} customers)           ready s  all served s  sample"]
    for case, c in (rec.get("cases") or {}).items():
        out.append(f"  {case:<40} {_fmt(c.get('ready_s')):>7} {_fmt(c.get('served_s')):>13}  "
                   f"{c.get('served_sample', '-')}/{c.get('sample', '-')}")
    return out


def _lat_row(label: str, res: dict[str, Any]) -> str:
    lat, svc = res.get("latency_ms", {}), res.get("service_ms", {})
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(res.get("statuses", {}).items()))
    if saturated(res):
        label = f"{label} — **saturated** (the worker cannot serve this rate; latencies are queueing)"
    return (f"| {label} | {_fmt(res.get('achieved_rate'), '', 0)} | {_fmt(lat.get('p50'))} | {_fmt(lat.get('p99'))} | "
            f"{_fmt(lat.get('p99.9'))} | {_fmt(lat.get('max'))} | {_fmt(svc.get('p99'))} | "
            f"{_fmt(_g(res, 'send_lag_ms', 'p99'))} | {_fmt(res.get('worker_cpu'))} | "
            f"{_fmt(res.get('worker_cpu_us_per_request'))} | {statuses} |")


def render_markdown(r: dict[str, Any]) -> str:
    meta = r.get("meta", {})
    out = ["## Run", ""]
    for key in ("started", "finished", "command", "commit", "cpu", "cores", "memory_gib", "kernel", "python", "wrk",
                "loadavg_start", "loadavg_end", "bench_key_rate"):
        out.append(f"- {key}: `{meta.get(key)}`")
    out.append(f"- versions: {', '.join(f'{k} {v}' for k, v in (meta.get('versions') or {}).items())}")
    out.append(f"- sizes: `{meta.get('sizes')}`")
    out += ["", "## Targets", "", "| target | limit | measured | met |", "|---|---|---|---|"]
    for name, limit, measured, ok in targets(r):
        out.append(f"| {name} | {limit} | {measured} | {'-' if ok is None else ('yes' if ok else '**no**')} |")
    peak = r.get("peak")
    if peak:
        out += ["", "## 1. Decision endpoint vs the framework's limit", "",
                f"Peak (wrk, closed loop, 1 thread, {peak['kairos']['connections']} connections, "
                f"{peak['kairos']['seconds']:g} s; response body {peak['body_bytes']} bytes):", "",
                "| server | requests/s | p50 ms | p99 ms | non-2xx | server CPU | CPU µs/request |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for name in ("bare", "kairos"):
            p = peak[name]
            out.append(f"| {'bare aiohttp' if name == 'bare' else 'Kairos /v1/decisions'} | "
                       f"{_fmt(p.get('requests_per_s'), '', 0)} | {_fmt(p.get('p50_ms'))} | {_fmt(p.get('p99_ms'))} | "
                       f"{p.get('non_2xx', 0)} | {_fmt(p.get('worker_cpu'))} | "
                       f"{_fmt(p.get('worker_cpu_us_per_request'))} |")
        out.append(f"\nRatio Kairos / bare: **{peak['ratio']:.1%}**.")
    fixed = r.get("fixed_rate")
    if fixed:
        seed = r.get("seed", {})
        out += ["", f"Fixed rates (open loop, client-side latency from the scheduled send time, "
                f"{_fmt(seed.get('customers'))} customers in state). All latencies in ms. CPU = the worker's CPU "
                "seconds per second; CPU µs/req = that divided by the achieved rate (robust to a busy machine).", "",
                "| run | achieved/s | p50 | p99 | p99.9 | max | p99 server+net | p99 send lag | CPU | CPU µs/req "
                "| statuses |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for label in ("idle", "ingesting"):
            for rate, res in (fixed.get(label) or {}).items():
                name = f"{rate}/s" + (" + ingest 2,000 events/s" if label == "ingesting" else "")
                out.append(_lat_row(name, res))
        waits = [f"{res['settled_s']:g}" for label in ("idle", "ingesting")
                 for res in (fixed.get(label) or {}).values() if res.get("settled_s") is not None]
        if waits:
            out += ["", "Before each run the worker was left to go idle (below 0.15 cores: the previous run's "
                    f"backlog applied), in this order: {', '.join(waits)} s."]
    scaling = r.get("scaling")
    if scaling:
        out += ["", "## 2. Scaling with state size (decisions at 500 and 1,000 req/s)", "",
                "| customers in state | seeded | p50 ms at 500/s | p99 ms at 500/s | p50 ms at 1,000/s | "
                "p99 ms at 1,000/s |", "|---:|---|---:|---:|---:|---:|"]
        for n, s in sorted(scaling.items(), key=lambda kv: int(kv[0])):
            out.append(f"| {int(n):,} | {s['seeded']} | {_fmt(s.get('p50_ms_500'))} | {_fmt(s.get('p99_ms_500'))} | "
                       f"{_fmt(s.get('p50_ms_1000'))} | {_fmt(s.get('p99_ms_1000'))} |")
    single, ingest = r.get("stream_single"), r.get("stream_ingest")
    if single or ingest:
        out += ["", "## 3. Stream throughput vs the raw consumer (one worker)", "",
                "| path | events | events/record | applied events/s | raw consumer | ratio |",
                "|---|---:|---:|---:|---:|---:|"]
        if single:
            out.append(f"| (a) one event per message | {single['events']:,} | 1 | "
                       f"**{single['applied_events_per_s']:,}** | {single['raw_records_per_s']:,.0f} records/s "
                       f"({single['raw_decoded_events_per_s']:,.0f} with orjson.loads) | "
                       f"{single['ratio_to_raw']:.2%} ({single['ratio_to_raw_decoded']:.2%}) |")
        for label, b in (ingest or {}).items():
            out.append(f"| (b) ingest, {b['events_per_request']} events/request over {b['customers_per_request']} "
                       f"customers ({label}) | {b['events']:,} | {b['events_per_record']} | "
                       f"**{b['applied_events_per_s']:,}** (HTTP accepted {b['http_accepted_events_per_s']:,}/s) | "
                       f"{b['raw_events_per_s']:,.0f} events/s ({b['raw_records_per_s']:,.0f} records/s) | "
                       f"{b['ratio_to_raw']:.2%} |")
        if r.get("seed"):
            s = r["seed"]
            out.append(f"| seeding: Kairos's array layout written to the topic directly | {s['events']:,} | "
                       f"{s['events_per_record']} | {s['applied_events_per_s']:,} | - | - |")
    runs = _freshness_runs(r)
    if runs:
        out += ["", "## 4. Freshness (event accepted → decision reflects it)", "",
                "| background load | probes | seen | not seen within the timeout | not accepted | from | p50 ms | "
                "p90 ms | p99 ms | max ms | background decisions p99 ms |",
                "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|"]
        for fresh in runs:
            for key, name in (("from_accepted_ms", "202 received"), ("from_sent_ms", "POST sent")):
                f = fresh.get(key) or {}
                out.append(f"| {_load_text(fresh)} | {fresh.get('probes')} | {fresh.get('seen')} | "
                           f"**{fresh.get('not_seen')}** ({fresh.get('not_seen_within_s')} s) | "
                           f"{fresh.get('not_accepted') or 0} | {name} | {_fmt(f.get('p50'))} | {_fmt(f.get('p90'))} | "
                           f"{_fmt(f.get('p99'))} | {_fmt(f.get('max'))} | "
                           f"{_fmt(_g(fresh, 'background_decisions', 'p99'))} |")
        out += ["", "Probes start every 0.1 s within the budget; one not seen within the timeout is counted, "
                "not put in the percentiles."]
    memory = r.get("memory")
    if memory:
        out += ["", "## 5. Memory", "", "| customers | state source | serialized bytes/customer (mean) | RSS MiB |",
                "|---:|---|---:|---:|"]
        for n, m in sorted(memory.items(), key=lambda kv: int(kv[0])):
            out.append(f"| {int(n):,} | {m.get('source', 'empty worker')} | {_fmt(m.get('state_bytes_mean'), '', 0)} | "
                       f"{_fmt(m.get('rss_mib'), '', 0)} |")
    rec = r.get("recovery")
    if rec:
        out += recovery_markdown(rec)
    micro = r.get("micro")
    if micro:
        out += ["", "## Per-operation costs (in-process, `tests/benchmarks/micro.py`)", ""]
        out += [f"- {k}: {v}" for k, v in micro.items()]
    for name, table in (r.get("profiles") or {}).items():
        out += ["", f"### Profile: {name} (py-spy, share of the worker's samples)", "", table]
    errors = r.get("errors")
    if errors:
        out += ["", "## Phases that failed", "", "Recorded here instead of ending the run; the other phases' figures "
                "above are complete. Details: generators.log and the worker logs in the results folder.", ""]
        out += [f"- **{name}**: `{detail}`" for name, detail in errors.items()]
    return "\n".join(out) + "\n"


def recovery_markdown(rec: dict[str, Any]) -> list[str]:
    out = ["", "## 6. Recovery after a crash (`--only recovery`)", "",
           f"A worker with {_fmt(rec.get('customers'))} customers' events applied ({_fmt(rec.get('events'))} events, "
           f"store `{rec.get('store')}`) is stopped as below and restarted against the same broker. Ready = "
           f"restart → /readyz 200; all served = restart → every one of {rec.get('sample')} sampled customers "
           "shows her seeded state (events_applied) in the owner-only state read.", "",
           "| case | stop | data dir on restart | ready s | all served s | served at ready | over-applied "
           "| customer events re-processed |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    for case, c in (rec.get("cases") or {}).items():
        out.append(f"| {case} | {c.get('signal')} | {c.get('data_dir')} | {_fmt(c.get('ready_s'))} | "
                   f"{_fmt(c.get('served_s'))} | {c.get('served_at_ready', '-')}/{c.get('sample', '-')} | "
                   f"{c.get('over_applied', '-')} | {_fmt(c.get('events_reprocessed'))} |")
    return out
