"""Which API key `kairos replay` / `kairos load` use, said out loud; a refused key names its file and the way out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.cli import main
from tests.component.ingest_stand_in import StandIn, serve

STORE = Path(__file__).resolve().parents[1] / "data/locations/retail_demo_store_store_location.json"


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    yield from serve()


@pytest.fixture(autouse=True)
def no_key_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAIROS_API_KEY", "KAIROS_API_KEY_FILE", "KAIROS_API_KEYS_FILE", "KAIROS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def load(stand_in: StandIn, *flags: str) -> int:
    return main(["load", "stores", str(STORE), "--id", "s-1", "--url", stand_in.url, *flags])


def test_a_stale_development_key_is_refused_with_its_file_named(
        stand_in: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dev-api-key").write_text("kairos_dev_stale\n")
    stand_in.status = 401
    assert load(stand_in, "--data-dir", str(tmp_path)) == 1
    key_file = tmp_path / "dev-api-key"
    err = capsys.readouterr().err
    assert f"sending to {stand_in.url} with the API key from {key_file}" in err
    assert err.endswith(
        f"kairos: {stand_in.url} refused the API key from {key_file} (401 unauthorized). That file is the "
        "development key `kairos serve --demo` writes when Kairos runs without a keys file; a Kairos started "
        "with KAIROS_API_KEYS_FILE does not accept it, and each demo start makes a new one. Pass --key or "
        "--key-file (or set KAIROS_API_KEY / KAIROS_API_KEY_FILE) with a key that has the ingest scope: "
        "`kairos keys create --id replay --scopes ingest,metrics --file <the keys file>`, then restart Kairos.\n")
    assert stand_in.authorizations == ["Bearer kairos_dev_stale"]


def test_with_a_keys_file_configured_the_development_key_is_not_guessed(
        stand_in: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dev-api-key").write_text("kairos_dev_stale\n")
    monkeypatch.setenv("KAIROS_API_KEYS_FILE", "/etc/kairos/keys.json")
    assert load(stand_in, "--data-dir", str(tmp_path)) == 1
    assert capsys.readouterr().err.endswith(
        "kairos: no API key given, and KAIROS_API_KEYS_FILE is set, so Kairos accepts only the keys in "
        "/etc/kairos/keys.json (a development key in the data directory is from an earlier demo run). Pass "
        "--key or --key-file, or set KAIROS_API_KEY / KAIROS_API_KEY_FILE, with a key that has the ingest "
        "scope: `kairos keys create --id replay --scopes ingest,metrics --file /etc/kairos/keys.json`, then "
        "restart Kairos.\n")
    assert stand_in.authorizations == []


def test_key_file_flag_and_environment(stand_in: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "replay.key"
    key_file.write_text("kairos_replay_abc\n")
    assert load(stand_in, "--key-file", str(key_file)) == 0
    assert f"with the API key from --key-file {key_file}" in capsys.readouterr().err
    monkeypatch.setenv("KAIROS_API_KEY_FILE", str(key_file))
    assert load(stand_in) == 0
    assert f"with the API key from KAIROS_API_KEY_FILE={key_file}" in capsys.readouterr().err
    monkeypatch.setenv("KAIROS_API_KEY", "kairos_env_xyz")  # the variable holding the key wins over its file
    assert load(stand_in) == 0
    assert "with the API key from KAIROS_API_KEY" in capsys.readouterr().err
    assert stand_in.authorizations == ["Bearer kairos_replay_abc"] * 2 + ["Bearer kairos_env_xyz"]
    (tmp_path / "empty.key").write_text("\n")
    assert load(stand_in, "--key-file", str(tmp_path / "empty.key")) == 1
    assert capsys.readouterr().err.endswith(f"kairos: --key-file {tmp_path / 'empty.key'}: holds no API key\n")
