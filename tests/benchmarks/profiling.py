"""py-spy around a running worker, and a plain-text summary of where its time went.

`record()` starts `py-spy record --format raw` (collapsed stacks) on a pid for some seconds,
pausing the process for each sample (with `--nonblocking` the stacks came out mangled);
`summarize()` turns the stacks into the top functions by inclusive and by own ("self") samples,
as percentages of all samples of the process, which is what BENCHMARKS.md quotes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def record(pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen[bytes] | None:
    exe = py_spy()
    if exe is None:
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
                             "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize(raw: Path, top: int = 15) -> str:
    """Top functions by inclusive and self share of samples, as a markdown table."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    if not total:
        return "(no samples)"
    rows = ["| function | inclusive | self |", "|---|---:|---:|"]
    names = [name for name, _ in inclusive.most_common() if not name.startswith(("<module>", "run (", "main ("))]
    for name in names[:top]:
        rows.append(f"| `{name}` | {inclusive[name] / total:.0%} | {own[name] / total:.0%} |")
    rows.append("")
    rows.append("Top self time: " + ", ".join(f"`{name}` {n / total:.0%}" for name, n in own.most_common(8)))
    rows.append(f"({total} samples)")
    return "\n".join(rows)
