"""The trigger core stays pure: no I/O, clock, logging or stream library is imported there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "service" / "core" / "triggers"
BANNED = {"asyncio", "logging", "time", "os", "socket", "aiohttp", "aiokafka", "faust", "orjson", "service.stream",
          "service.api", "service.adapters", "service.telemetry"}


@pytest.mark.parametrize("module", sorted(p.name for p in CORE.glob("*.py")))
def test_no_io_in_the_trigger_core(module: str) -> None:
    tree = ast.parse((CORE / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m in BANNED or m.split(".")[0] in BANNED
                or any(m.startswith(b + ".") for b in BANNED)}
    assert ast.get_docstring(tree), "every module says what it is for"
