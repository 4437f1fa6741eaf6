"""TLS and SASL for every Kafka client Kairos opens: built once from Settings at start.

faust (the stream processor) and the aiokafka clients of the adapters (producer, admin, the
reference feed, the state-epoch check, high-water probes) must all speak the same protocol to a
production cluster; one object carries it so no client is left on PLAINTEXT by mistake.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from service.settings import Settings, SettingsError


@dataclass(frozen=True)
class KafkaSecurity:
    """How to reach the cluster: `protocol` is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            # aiokafka takes the SCRAM credentials through the same two arguments as PLAIN.
            kwargs.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                          sasl_plain_password=self.sasl_password)
        return kwargs

    def faust_credentials(self) -> CredentialsT | None:
        """faust's `broker_credentials`: faust turns them into the same aiokafka arguments."""
        if self.sasl_mechanism is not None:
            # faust picks SASL_SSL when it is given an SSL context, SASL_PLAINTEXT otherwise.
            return SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                   mechanism=self.sasl_mechanism, ssl_context=self.ssl_context)
        if self.ssl_context is not None:
            return SSLCredentials(self.ssl_context)
        return None


PLAINTEXT = KafkaSecurity()


def kafka_security(settings: Settings) -> KafkaSecurity:
    """Reads the password file and builds the TLS context; a file that cannot be read is a
    SettingsError naming the variable and the file (Settings already checked the combination)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return PLAINTEXT
    context = _ssl_context(settings) if protocol in {"SSL", "SASL_SSL"} else None
    if not protocol.startswith("SASL_"):
        return KafkaSecurity(protocol=protocol, ssl_context=context)
    password = settings.kafka_sasl_password
    if settings.kafka_sasl_password_file is not None:
        password = _read("KAIROS_KAFKA_SASL_PASSWORD_FILE", settings.kafka_sasl_password_file).rstrip("\r\n")
    return KafkaSecurity(protocol=protocol, sasl_mechanism=settings.kafka_sasl_mechanism,
                         sasl_username=settings.kafka_sasl_username, sasl_password=password, ssl_context=context)


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    for name, path in (("KAIROS_KAFKA_SSL_CAFILE", settings.kafka_ssl_cafile),
                       ("KAIROS_KAFKA_SSL_CERTFILE", settings.kafka_ssl_certfile),
                       ("KAIROS_KAFKA_SSL_KEYFILE", settings.kafka_ssl_keyfile)):
        if path is not None:
            _read(name, path)
    try:
        # Verifies the brokers' certificates and host names (aiokafka's helper never turns that off).
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.kafka_ssl_cafile, certfile=settings.kafka_ssl_certfile, keyfile=settings.kafka_ssl_keyfile)
        return context
    except ssl.SSLError as exc:
        raise SettingsError(f"KAIROS_KAFKA_SSL_*: the CA, certificate or key file cannot be used ({exc})") from None


def _read(name: str, path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise SettingsError(f"{name}={path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{name}={path}: not a text (PEM) file") from None
