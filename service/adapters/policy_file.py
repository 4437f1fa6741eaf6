"""Adapter: read a policy file (YAML or JSON), check it against schemas/policy.schema.json and the
core's semantic rules, and say where each problem is (file, line, JSON pointer).

Both formats are parsed for line numbers with PyYAML's composer (JSON is YAML here); a `.json`
file's values come from orjson, so what JSON means is decided by a JSON parser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from service.core.policy import Policy, Problem, load_policy
from service.core.policy.semantics import check_policy

SchemaCheck = Callable[[object], list[tuple[str, str]]]
"""A document -> [(JSON pointer, reason)] from the policy schema (empty when valid)."""


@dataclass(frozen=True, slots=True)
class Located:
    file: str
    pointer: str
    line: int | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: {self.pointer or '/'}: {self.message}"


@dataclass(frozen=True, slots=True)
class PolicyLoad:
    policy: Policy | None  # None when there is any error
    problems: tuple[Located, ...]
    digest: str  # SHA-256 of the file's bytes ("" when it could not be read)
    document: Mapping[str, Any] | None = None

    @property
    def errors(self) -> list[Located]:
        return [p for p in self.problems if p.severity == "error"]


def _escape(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def line_map(text: str) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """(JSON pointer -> 1-based line of its value, duplicate keys as (pointer, line))."""
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    root = yaml.compose(text, Loader=yaml.SafeLoader)

    def walk(node: yaml.Node, pointer: str) -> None:
        lines.setdefault(pointer, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                child = f"{pointer}/{_escape(name)}"
                if name in seen:
                    duplicates.append((child, key.start_mark.line + 1))
                seen.add(name)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{pointer}/{i}")

    if root is not None:
        walk(root, "")
    return lines, duplicates


def _line(lines: Mapping[str, int], pointer: str) -> int | None:
    while True:
        if pointer in lines:
            return lines[pointer]
        if not pointer:
            return None
        pointer = pointer.rsplit("/", 1)[0]


def parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        return orjson.loads(text)
    return yaml.safe_load(text)


def check_document(name: str, text: str, document: Any, schema_check: SchemaCheck) -> list[Located]:
    """Every problem of a parsed document, located; schema errors first, then semantic ones."""
    try:
        lines, duplicates = line_map(text)
    except yaml.YAMLError:
        lines, duplicates = {}, []
    out = [Located(name, p, line, "this key appears twice; the last one wins — remove one") for p, line in duplicates]
    schema_errors = schema_check(document)
    out += [Located(name, p, _line(lines, p), reason) for p, reason in schema_errors]
    if schema_errors or not isinstance(document, Mapping):
        return out
    problems: list[Problem] = check_policy(document)
    out += [Located(name, p.pointer, _line(lines, p.pointer), p.message, p.severity) for p in problems]
    return out


def read_policy(path: Path, schema_check: SchemaCheck) -> PolicyLoad:
    """Read and check a policy file; never raises for a bad file (the problems say what is wrong)."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return PolicyLoad(None, (Located(name, "", None, f"cannot read the file: {exc.strerror or exc}"),), "")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
        document = parse(path, text)
    except UnicodeDecodeError:
        return PolicyLoad(None, (Located(name, "", None, "the file is not UTF-8 text"),), digest)
    except orjson.JSONDecodeError as exc:
        return PolicyLoad(None, (Located(name, "", exc.lineno, f"not valid JSON: {exc.msg}"),), digest)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        return PolicyLoad(None, (Located(name, "", line, f"not valid YAML: {getattr(exc, 'problem', exc)}"),), digest)
    problems = check_document(name, text, document, schema_check)
    if any(p.severity == "error" for p in problems):
        return PolicyLoad(None, tuple(problems), digest, document if isinstance(document, Mapping) else None)
    return PolicyLoad(load_policy(document), tuple(problems), digest, document)
