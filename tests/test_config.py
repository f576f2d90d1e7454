"""Settings: defaults, config.toml, environment overrides, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import USER_AGENT, load_settings
from aggregator.errors import ConfigError


def test_defaults_and_home(tmp_path: Path):
    settings = load_settings(data_dir=tmp_path, env={})
    assert settings.data_dir == tmp_path and settings.config_dir == tmp_path
    assert settings.opml_path == tmp_path / "feeds.opml"
    assert settings.db_path == tmp_path / "library.sqlite3"
    assert settings.fetch.concurrency == 16 and settings.fetch.per_host == 2
    assert settings.fetch.user_agent == USER_AGENT and "aggregator/" in USER_AGENT


def test_platform_dirs_without_a_home(tmp_path: Path):
    env = {}
    settings = load_settings(env=env)
    assert settings.data_dir != settings.config_dir
    assert settings.data_dir.name == "aggregator"


def test_env_home_and_explicit_opml(tmp_path: Path):
    settings = load_settings(opml="list.opml", env={"AGGREGATOR_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.opml_path == Path("list.opml").absolute()


@pytest.mark.parametrize("option", ["--data-dir", "--opml"])
def test_an_empty_path_is_an_error_not_the_per_user_library(option: str, capsys):
    """`--data-dir "$DIR"` with DIR unset used the user's own library (found by review)."""
    from aggregator.cli import run

    assert run([option, "", "stats"]) == 1
    err = capsys.readouterr().err
    assert f"{option} is empty" in err and err.count("\n") == 1


def test_config_file_and_env_override(tmp_path: Path):
    (tmp_path / "config.toml").write_text(
        '[fetch]\nconcurrency = 4\nproxy = "socks5://127.0.0.1:9050"\ntimeout = 5\n'
    )
    settings = load_settings(data_dir=tmp_path, env={"AGGREGATOR_FETCH_PER_HOST": "3"})
    assert settings.fetch.concurrency == 4
    assert settings.fetch.per_host == 3
    assert settings.fetch.timeout == 5.0 and isinstance(settings.fetch.timeout, float)
    assert settings.fetch.proxy == "socks5://127.0.0.1:9050"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[fetch]\nconcurency = 4\n", "fetch.concurency"),
        ("[fetch]\nconcurrency = 'four'\n", "fetch.concurrency"),
        ("[fetch]\nconcurrency = 0\n", "fetch.concurrency"),
        ("[fetch]\nconcurrency = true\n", "fetch.concurrency"),
        # as `--concurrency` is (QA: 100000 was taken from the file and the environment)
        ("[fetch]\nconcurrency = 100000\n", "fetch.concurrency"),
        ("[fetch]\nper_host = 65\n", "fetch.per_host"),
        ("[fetch]\nproxy = 'ftp://x'\n", "fetch.proxy"),
        ("[fetch]\ntimeout = nan\n", "fetch.timeout"),  # every request would fail
        ("[fetch]\nconnect_timeout = inf\n", "fetch.connect_timeout"),
        ('[fetch]\nuser_agent = "me\\nX-Evil: 1"\n', "fetch.user_agent"),
        ("[fetchh]\n", "fetchh"),
        ("fetch = 3\n", "fetch"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, toml: str, key: str):
    (tmp_path / "config.toml").write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path, env={})
    assert key in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 1


def test_an_unknown_section_is_told_every_section_there_is(tmp_path: Path):
    """`[keys]` (the key bindings) was left out of the sections named (QA pass)."""
    (tmp_path / "config.toml").write_text("[key]\nquit = 'q'\n")
    with pytest.raises(ConfigError, match=r"unknown section or key 'key' \(known: .*\[keys\]"):
        load_settings(data_dir=tmp_path, env={})


def test_not_toml_at_all(tmp_path: Path):
    (tmp_path / "config.toml").write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(data_dir=tmp_path, env={})


def test_bad_env_value_names_the_variable(tmp_path: Path):
    with pytest.raises(ConfigError, match="AGGREGATOR_FETCH_TRIES"):
        load_settings(data_dir=tmp_path, env={"AGGREGATOR_FETCH_TRIES": "many"})


def test_a_mistyped_setting_in_the_environment_is_an_error_as_in_the_file(tmp_path: Path):
    """`AGGREGATOR_FETCH_CONCURENCY=4` did nothing, in silence (found by review)."""
    with pytest.raises(ConfigError, match="AGGREGATOR_FETCH_CONCURENCY: no such setting"):
        load_settings(data_dir=tmp_path, env={"AGGREGATOR_FETCH_CONCURENCY": "4"})
    with pytest.raises(ConfigError, match="AGGREGATOR_FETCH_Concurrency: no such setting"):
        load_settings(data_dir=tmp_path, env={"AGGREGATOR_FETCH_Concurrency": "4"})
    settings = load_settings(
        data_dir=tmp_path, env={"AGGREGATOR_HOME": str(tmp_path), "AGGREGATOR_DEBUG": "1"}
    )
    assert settings.data_dir == tmp_path  # other variables of the program are not settings
