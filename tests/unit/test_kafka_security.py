"""TLS and SASL settings: refused when half-configured, and the same protocol for faust and aiokafka."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import certifi
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity, kafka_security
from service.settings import SettingsError, load_settings

CLUSTER = {"KAIROS_KAFKA_BROKER": "kafka-0.kafka:9093"}





def test_plaintext_by_default() -> None:
    security = kafka_security(load_settings(CLUSTER))
    assert security is PLAINTEXT
    assert security.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert security.faust_credentials() is None


def test_sasl_ssl_with_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    security = kafka_security(load_settings({
        **CLUSTER, "KAIROS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAIROS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAIROS_KAFKA_SASL_USERNAME": "kairos", "KAIROS_KAFKA_SASL_PASSWORD_FILE": str(secret),
        "KAIROS_KAFKA_SSL_CAFILE": certifi.where(),
    }))
    kwargs = security.client_kwargs()
    context = kwargs.pop("ssl_context")
    assert kwargs == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                      "sasl_plain_username": "kairos", "sasl_plain_password": "s3cret"}
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    # The password never shows in a repr (logs, crash reports).
    assert "s3cret" not in repr(security)


@pytest.mark.parametrize("security", [
    PLAINTEXT,
    KafkaSecurity(protocol="SSL", ssl_context=ssl.create_default_context()),
    KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p"),
    KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_username="u", sasl_password="p",
                  ssl_context=ssl.create_default_context()),
])
def test_faust_gets_the_same_client_arguments_as_the_aiokafka_clients(security: KafkaSecurity) -> None:
    from_faust = dict(credentials_to_aiokafka_auth(security.faust_credentials()))
    if from_faust.get("ssl_context") is None:
        from_faust.pop("ssl_context", None)
    assert from_faust == security.client_kwargs()


@pytest.mark.parametrize(("env", "names"), [
    ({"KAIROS_KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAIROS_KAFKA_SECURITY_PROTOCOL='TLS'"),
    ({"KAIROS_KAFKA_SASL_USERNAME": "kairos"}, "KAIROS_KAFKA_SASL_USERNAME is set but"),
    ({"KAIROS_KAFKA_SSL_CAFILE": "/ca.pem"}, "KAIROS_KAFKA_SSL_CAFILE is set but"),
    ({"KAIROS_KAFKA_SECURITY_PROTOCOL": "SSL", "KAIROS_KAFKA_SSL_KEYFILE": "/k.pem"},
     "KAIROS_KAFKA_SSL_KEYFILE is set without KAIROS_KAFKA_SSL_CERTFILE"),
    ({"KAIROS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAIROS_KAFKA_SASL_MECHANISM": "GSSAPI"},
     "KAIROS_KAFKA_SASL_MECHANISM='GSSAPI'"),
    ({"KAIROS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAIROS_KAFKA_SASL_MECHANISM": "PLAIN"},
     "KAIROS_KAFKA_SASL_USERNAME is required"),
    ({"KAIROS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAIROS_KAFKA_SASL_MECHANISM": "PLAIN",
      "KAIROS_KAFKA_SASL_USERNAME": "u"}, "set one of KAIROS_KAFKA_SASL_PASSWORD_FILE"),
    ({"KAIROS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAIROS_KAFKA_SASL_MECHANISM": "PLAIN",
      "KAIROS_KAFKA_SASL_USERNAME": "u", "KAIROS_KAFKA_SASL_PASSWORD": "p", "KAIROS_KAFKA_SASL_PASSWORD_FILE": "/p"},
     "set one of KAIROS_KAFKA_SASL_PASSWORD_FILE"),
])
def test_half_configured_security_is_refused_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({**CLUSTER, **env})
    assert names in str(err.value)


def test_the_embedded_broker_speaks_plaintext_only() -> None:
    with pytest.raises(SettingsError, match="the embedded broker speaks PLAINTEXT only"):
        load_settings({"KAIROS_KAFKA_SECURITY_PROTOCOL": "SSL"})


def test_unreadable_files_name_the_variable_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(SettingsError, match=re.escape(f"KAIROS_KAFKA_SSL_CAFILE={missing}: cannot read it")):
        kafka_security(load_settings({**CLUSTER, "KAIROS_KAFKA_SECURITY_PROTOCOL": "SSL",
                                      "KAIROS_KAFKA_SSL_CAFILE": str(missing)}))
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is no certificate\n")
    with pytest.raises(SettingsError, match="the CA, certificate or key file cannot be used"):
        kafka_security(load_settings({**CLUSTER, "KAIROS_KAFKA_SECURITY_PROTOCOL": "SSL",
                                      "KAIROS_KAFKA_SSL_CAFILE": str(not_pem)}))
    with pytest.raises(SettingsError, match=r"KAIROS_KAFKA_SASL_PASSWORD_FILE=.*cannot read it"):
        kafka_security(load_settings({**CLUSTER, "KAIROS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                                      "KAIROS_KAFKA_SASL_MECHANISM": "PLAIN", "KAIROS_KAFKA_SASL_USERNAME": "u",
                                      "KAIROS_KAFKA_SASL_PASSWORD_FILE": str(missing)}))
