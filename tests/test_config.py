"""Configuration is validated on load; an error names the file, the key and the problem."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plugins.config import DEFAULT_CONFIG_DIR, ConfigError, config_digest, load_config


@pytest.fixture()
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


def test_the_bundled_configuration_is_valid():
    cfg = load_config()
    assert cfg.provisioning.regulatory_2002.rates[3] == 0.25
    assert cfg.classification.overdue_floors[1].days == 90


def test_a_wrong_value_names_file_key_and_problem(config_copy: Path):
    path = config_copy / "provisioning.yaml"
    path.write_text(path.read_text().replace("booked_method: regulatory_2002", "booked_method: gut_feeling"))
    with pytest.raises(ConfigError) as error:
        load_config(config_copy)
    message = str(error.value)
    assert "provisioning.yaml" in message and "booked_method" in message and "regulatory_2002" in message


def test_an_unknown_key_is_refused(config_copy: Path):
    path = config_copy / "documents.yaml"
    path.write_text(path.read_text() + "max_megabytes: 3\n")
    with pytest.raises(ConfigError, match=r"documents\.yaml: key 'max_megabytes': Extra inputs"):
        load_config(config_copy)


def test_float_beyond_twenty_percent_is_refused(config_copy: Path):
    path = config_copy / "provisioning.yaml"
    path.write_text(path.read_text().replace("float: {3: 0.0, 4: 0.0}", "float: {3: 0.3, 4: 0.0}"))
    with pytest.raises(ConfigError, match=r"regulatory_2002\.float"):
        load_config(config_copy)


def test_floors_out_of_order_are_refused(config_copy: Path):
    path = config_copy / "classification.yaml"
    path.write_text(path.read_text().replace("{days: 270, tier: 4}", "{days: 270, tier: 2}"))
    with pytest.raises(ConfigError, match=r"classification\.yaml: key 'overdue_floors'"):
        load_config(config_copy)


def test_a_missing_file_is_named(config_copy: Path):
    (config_copy / "retention.yaml").unlink()
    with pytest.raises(ConfigError, match=r"retention\.yaml: file not found"):
        load_config(config_copy)


def test_the_digest_changes_with_any_setting(config_copy: Path):
    before = config_digest(config_copy)
    path = config_copy / "classification.yaml"
    path.write_text(path.read_text().replace("technical_grace_days: 0", "technical_grace_days: 3"))
    assert config_digest(config_copy) != before


def test_config_check_validates_the_east_field_spec_too(config_copy: Path, monkeypatch, capsys):
    from pipelines import cli

    monkeypatch.setenv("POSTLOAN_CONFIG_DIR", str(config_copy))
    assert cli.main(["config", "check"]) == 0
    assert "east.yaml" in capsys.readouterr().out

    path = config_copy / "east.yaml"
    path.write_text(path.read_text().replace("encoding: gb18030", "encodng: gb18030"))
    assert cli.main(["config", "check"]) == 2
    error = capsys.readouterr().err
    assert "east.yaml" in error and "encodng" in error


def test_a_restored_configuration_snapshot_is_the_same_folder_byte_for_byte(config_copy: Path, tmp_path: Path):
    from plugins.config_snapshot import config_snapshot, restore_config_snapshot

    (config_copy / "institution.yaml").write_bytes((config_copy / "institution.yaml").read_bytes() + b"# note\r\n")
    restored = tmp_path / "restored"
    assert restore_config_snapshot(config_snapshot(config_copy), restored) == config_digest(config_copy)
    assert sorted(p.name for p in restored.iterdir()) == sorted(p.name for p in config_copy.glob("*.yaml"))
    assert load_config(restored).institution == load_config(config_copy).institution
    with pytest.raises(FileExistsError):
        restore_config_snapshot(config_snapshot(config_copy), restored)  # never over an existing folder
