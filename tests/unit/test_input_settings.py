"""Webhook secrets and input settings: files preferred, one source each, clear errors at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.adapters.mapping_file import load_mapping_file
from service.api.webhook_auth import load_webhook_secrets
from service.settings import SettingsError, load_settings


def test_secrets_from_files_one_per_line_and_from_variables(tmp_path: Path) -> None:
    radar = tmp_path / "radar"
    radar.write_text("old-token\nnew-token\n\n")
    settings = load_settings({"KAIROS_WEBHOOK_RADAR_TOKEN_FILE": str(radar), "KAIROS_WEBHOOK_KAIROS_SECRET": "s"})
    secrets = load_webhook_secrets(settings)
    assert secrets.secrets == {"radar": (b"old-token", b"new-token"), "kairos": (b"s",)}
    assert secrets.enabled("radar") and not secrets.enabled("aws-location")
    assert "new-token" not in repr(settings) and "new-token" not in repr(secrets)


def test_both_sources_or_a_bad_file_stop_kairos(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text("x")
    with pytest.raises(SettingsError, match=r"set one of KAIROS_WEBHOOK_RADAR_TOKEN_FILE .preferred. or "
                                            "KAIROS_WEBHOOK_RADAR_TOKEN, not both"):
        load_settings({"KAIROS_WEBHOOK_RADAR_TOKEN_FILE": str(path), "KAIROS_WEBHOOK_RADAR_TOKEN": "y"})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="holds no secret"):
        load_webhook_secrets(load_settings({"KAIROS_WEBHOOK_AZURE_MAPS_TOKEN_FILE": str(empty)}))
    with pytest.raises(SettingsError, match="cannot be read"):
        load_webhook_secrets(load_settings({"KAIROS_WEBHOOK_AZURE_MAPS_TOKEN_FILE": str(tmp_path / "missing")}))
    with pytest.raises(SettingsError, match=r"KAIROS_GEOFENCE_MAX_ACCURACY_M=0\.0"):
        load_settings({"KAIROS_GEOFENCE_MAX_ACCURACY_M": "0"})


def test_mapping_file_errors_name_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("radar:\n  customers:\n    email: {a: b}\n")
    with pytest.raises(SettingsError, match=r"mapping.yaml.radar.customers: unknown key 'email'"):
        load_mapping_file(path)
    path.write_text("radar: [1, 2\n")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_mapping_file(path)
    path.write_text("aws-location:\n  customers: {device_id: {Device1-EXAMPLE: anna}}\n")
    assert load_mapping_file(path).customer("aws-location", device_id="Device1-EXAMPLE") == "anna"
    assert load_mapping_file(None).providers == {}
