"""Adapter: the policy in force, and its reload — on SIGHUP and, when KAIROS_POLICY_WATCH_S > 0,
when the file's bytes change (polled at that interval).

A bad file is rejected with one log line per problem (file:line: pointer: message) and
`kairos_policy_reloads_total{result="rejected"}`; the previous policy keeps serving. A good
one replaces it atomically (decisions read `current` once each) and moves `kairos_policy_info`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from service.adapters.policy_file import PolicyLoad
from service.core.policy import Policy

log = logging.getLogger("kairos.policy")


class PolicyStore:
    def __init__(self, path: Path | None, policy: Policy, digest: str, read: Callable[[Path], PolicyLoad],
                 on_result: Callable[[str, Policy], None]) -> None:
        self.path = path
        self.current = policy
        self._digest = digest
        self._read = read
        self._on_result = on_result  # (result, policy in force) -> metrics

    def reload(self, reason: str = "signal") -> str:
        """Re-read the file: "ok" (replaced), "unchanged" (same bytes) or "rejected"."""
        if self.path is None:
            log.info("policy reload asked but no policy file is configured (KAIROS_POLICY_FILE); "
                     "the built-in default stays", extra={"trigger": reason})
            return "unchanged"
        loaded = self._read(self.path)
        if loaded.policy is None:
            for problem in loaded.errors:
                log.error(f"policy rejected: {problem}", extra={"trigger": reason})
            log.error("policy reload rejected; still serving the previous policy",
                      extra={"file": str(self.path), "version": self.current.version, "errors": len(loaded.errors),
                             "trigger": reason})
            self._on_result("rejected", self.current)
            return "rejected"
        if loaded.digest == self._digest:
            self._on_result("unchanged", self.current)
            return "unchanged"
        for problem in loaded.problems:
            log.warning(f"policy warning: {problem}")
        previous = self.current.version
        self.current, self._digest = loaded.policy, loaded.digest
        log.info("policy reloaded", extra={"file": str(self.path), "version": loaded.policy.version,
                                           "previous_version": previous, "trigger": reason})
        self._on_result("ok", self.current)
        return "ok"

    def file_changed(self) -> bool:
        """True when the file's bytes differ from the policy in force (cheap: size+mtime first)."""
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
        except OSError:
            return False
        key = (stat.st_size, stat.st_mtime_ns)
        if key == getattr(self, "_stat", None):
            return False
        self._stat = key
        return True

    async def watch(self, interval_s: float) -> None:
        """Poll the file every interval_s; reload when it changed (a rejected file is not retried
        until it changes again)."""
        self.file_changed()
        while True:
            await asyncio.sleep(interval_s)
            if self.file_changed():
                self.reload("file_watch")
