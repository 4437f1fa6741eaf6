"""Settings and wiring of triggered messages: clear errors naming the variable, the gateway's token
from a file, and the funnel counter shared with the SRE metrics bundle (one registration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from service.notify_setup import read_token
from service.settings import SettingsError, load_settings
from service.telemetry.metrics import build_metrics
from service.telemetry.notify_metrics import build_notify_metrics


@pytest.mark.parametrize(("env", "message"), [
    ({"KAIROS_NOTIFY_WEBHOOK_URL": "gateway.local/send"}, "KAIROS_NOTIFY_WEBHOOK_URL='gateway.local/send': use an"),
    ({"KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE": "/run/secrets/t"}, "KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE is set without"),
    ({"KAIROS_NOTIFY_WEBHOOK_TIMEOUT_S": "0"}, "KAIROS_NOTIFY_WEBHOOK_TIMEOUT_S=0.0: use a number greater than 0"),
    ({"KAIROS_NOTIFY_TIMER_S": "-1"}, "KAIROS_NOTIFY_TIMER_S=-1.0"),
    ({"KAIROS_NOTIFY_WEBHOOK_RETRIES": "-1"}, "KAIROS_NOTIFY_WEBHOOK_RETRIES must not be negative"),
    ({"KAIROS_NOTIFY_WEBHOOK_QUEUE": "0"}, "KAIROS_NOTIFY_WEBHOOK_QUEUE"),
    ({"KAIROS_TEST_CLOCK_START": "tomorrow"}, "KAIROS_TEST_CLOCK_START='tomorrow': use an RFC 3339 time"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert message in str(raised.value)


def test_the_defaults_send_to_the_topic_only() -> None:
    s = load_settings({})
    assert (s.notifications, s.notify_webhook_url, s.notify_webhook_token_file, s.notify_webhook_retries,
            s.notify_timer_s, s.test_clock_start) == (True, "", None, 3, 0.25, "")


def test_the_token_comes_from_its_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-t0ken\n")
    env = {"KAIROS_NOTIFY_WEBHOOK_URL": "https://push.example/v1/send", "KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE": str(token)}
    assert read_token(load_settings(env)) == "s3cret-t0ken"
    token.write_text("\n")
    with pytest.raises(SettingsError, match="is empty"):
        read_token(load_settings(env))
    missing = {**env, "KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE": str(tmp_path / "nope")}
    with pytest.raises(SettingsError, match="cannot read it"):
        read_token(load_settings(missing))
    assert read_token(load_settings({})) is None


def test_the_main_bundles_funnel_counter_is_the_one_counted() -> None:
    registry = CollectorRegistry()
    theirs = build_metrics(registry).trigger_funnel
    ours = build_notify_metrics(registry, theirs)
    assert ours.funnel is theirs
    ours.funnel.labels("loyalty_close", "sent").inc()
    assert registry.get_sample_value("kairos_trigger_funnel_total", {"kind": "loyalty_close", "stage": "sent"}) == 1
    fresh = CollectorRegistry()
    build_notify_metrics(fresh)
    assert fresh.get_sample_value("kairos_trigger_funnel_total", {"kind": "back_in_stock", "stage": "expired"}) == 0
