"""Creates Kairos's topics before any client touches them, waiting (with backoff) for the cluster.

Tansu auto-creates unknown topics with 4 partitions and cannot add partitions later
(BROKER.md #5), so every topic is created explicitly with the configured count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger("kairos.kafka")

_TOPIC_ALREADY_EXISTS = 36


class ClusterUnavailable(RuntimeError):
    """The Kafka cluster did not answer within the configured time."""


async def wait_for_cluster(bootstrap: list[str], timeout_s: float, first_delay_s: float = 0.25,
                           security: KafkaSecurity = PLAINTEXT) -> None:
    """Retries with exponential backoff and a clear log line until a metadata request succeeds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = first_delay_s
    attempt = 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **security.client_kwargs())
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            if loop.time() + delay > deadline:
                raise ClusterUnavailable(
                    f"Kafka at {','.join(bootstrap)} did not answer within {timeout_s:.0f} s "
                    f"({type(exc).__name__}); check KAIROS_KAFKA_BROKER and that the cluster is up"
                ) from exc
            log.warning(
                "Kafka not reachable yet; retrying",
                extra={"bootstrap": ",".join(bootstrap), "attempt": attempt, "retry_in_s": round(delay, 2),
                       "error": type(exc).__name__},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:
            await admin.close()


async def ensure_topics(bootstrap: list[str], topics: Iterable[tuple[str, int]], replication: int,
                        security: KafkaSecurity = PLAINTEXT,
                        configs: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Creates missing topics (with `configs[name]`, e.g. compaction); returns the names created.
    Existing topics keep their layout and configs, but a partition count different from the
    wanted one is reported (keys would move)."""
    wanted = dict(topics)
    configs = configs or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000, **security.client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, parts, replication, topic_configs=dict(configs.get(name, {})))
                   for name, parts in wanted.items() if name not in existing]
        created: list[str] = []
        if missing:
            resp = await admin.create_topics(missing)
            for name, code, message in resp.topic_errors:
                if code == 0:
                    created.append(name)
                elif code != _TOPIC_ALREADY_EXISTS:
                    raise RuntimeError(f"could not create topic {name}: error {code} {message}")
        present = [n for n in wanted if n in existing]
        if present:
            for desc in await admin.describe_topics(present):
                n = len(desc.get("partitions", []))
                if n != wanted[desc["topic"]]:
                    log.warning(
                        "topic has a different partition count than configured",
                        extra={"topic": desc["topic"], "partitions": n, "configured": wanted[desc["topic"]]},
                    )
        return created
    finally:
        await admin.close()
