"""Settings: where things live and the limits the fetcher keeps, from config.toml and the env.

Every setting has a default, so a missing config.toml is normal. A bad file or value is a
`ConfigError` naming the key, never a half-applied configuration.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aggregator import __version__
from aggregator.errors import ConfigError

APP_NAME = "aggregator"
HOME_ENV = "AGGREGATOR_HOME"
"""One directory for everything (data and config): handy for tests, scripts and a USB stick."""
USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator-reader/aggregator)"


MAX_CONCURRENCY = 256
MAX_PER_HOST = 64
"""Limits on requests in flight, however set (`--concurrency`, config.toml, environment)."""


@dataclass(frozen=True, slots=True)
class FetchSettings:
    concurrency: int = field(default=16, metadata={"min": 1, "max": MAX_CONCURRENCY})
    per_host: int = field(default=2, metadata={"min": 1, "max": MAX_PER_HOST})
    connect_timeout: float = field(default=10.0, metadata={"min": 0.1})
    timeout: float = field(default=60.0, metadata={"min": 0.1})
    """Whole-request limit, body included: a server that trickles bytes cannot hold a slot."""
    max_bytes: int = field(default=16 * 1024 * 1024, metadata={"min": 1024})
    """Cap on a response body after decompression."""
    tries: int = field(default=2, metadata={"min": 1})
    """Attempts per request: timeouts, connection errors and 5xx are tried again with backoff."""
    proxy: str = ""
    user_agent: str = USER_AGENT
    teaser_words: int = field(default=80, metadata={"min": 0})
    """Feed content shorter than this is a teaser: the article page is fetched for the full text."""


@dataclass(frozen=True, slots=True)
class IndexSettings:
    lock_wait: float = field(default=30.0, metadata={"min": 0.0})
    """Seconds to wait for another process writing the index before giving up (exit 2)."""
    search_helper: bool = True
    """In a session that searches again and again (the terminal UI), over 20,000 entries or
    more: a second process ranks half of each search, so it uses two cores."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    config_dir: Path
    opml_path: Path
    fetch: FetchSettings = FetchSettings()
    index: IndexSettings = IndexSettings()
    keys: tuple[tuple[str, str], ...] = ()
    """`[keys]` in config.toml: terminal UI action id → keys (e.g. `"entry.star" = "f"`)."""

    @property
    def db_path(self) -> Path:
        return self.data_dir / "library.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"


_SECTIONS: dict[str, type] = {"fetch": FetchSettings, "index": IndexSettings}
_TABLES = (*_SECTIONS, "keys")
"""Every table config.toml may have: the sections, and the key bindings."""


def load_settings(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    opml: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve paths, then apply config.toml, then `AGGREGATOR_<SECTION>_<KEY>` variables."""
    env = os.environ if env is None else env
    # An empty name (`--data-dir "$DIR"` with DIR unset) must not mean the per-user library.
    for option, value in (("--data-dir", data_dir), ("--opml", opml)):
        if value is not None and not str(value).strip():
            raise ConfigError(f"{option} is empty: name a path, or leave {option} out", key=option)
    home = data_dir or env.get(HOME_ENV) or None
    if home:
        base = Path(home).expanduser().absolute()
        data, conf = base, base
    else:
        # (imported here: with a data directory given, as scripts and benchmarks give
        # one, a short command need not load them, ~5 ms of a warm `fetch`)
        import platformdirs

        data = Path(platformdirs.user_data_dir(APP_NAME))
        conf = Path(platformdirs.user_config_dir(APP_NAME))
    opml_path = Path(opml).expanduser().absolute() if opml else conf / "feeds.opml"
    settings = Settings(data_dir=data, config_dir=conf, opml_path=opml_path)
    values = _read_config_file(settings.config_file)
    values = _merge_env(values, env)
    sections = {
        name: _build_section(name, cls, values.get(name, {})) for name, cls in _SECTIONS.items()
    }
    return replace(settings, **sections, keys=_keys(values.get("keys", {})))


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}  # no config file is normal; a data dir that cannot exist is reported later
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", key=str(path)) from None
    import tomllib  # (only where there is a file to read)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", key=str(path)) from None
    for name, value in data.items():
        if name not in _TABLES:
            known = ", ".join(f"[{s}]" for s in _TABLES)
            raise ConfigError(f"{path}: unknown section or key '{name}' (known: {known})", key=name)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: '{name}' must be a table ([{name}])", key=name)
    return data


def _keys(table: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Key bindings as written; the UI checks the action ids, which it alone knows."""
    pairs = []
    for action, keys in table.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError(
                f'setting \'keys.{action}\' must be a string of keys, e.g. "ctrl+s" or "s,f"',
                key=f"keys.{action}",
            )
        pairs.append((str(action), keys.strip()))
    return tuple(pairs)


def _merge_env(values: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {name: dict(values.get(name, {})) for name in _SECTIONS}
    merged["keys"] = dict(values.get("keys", {}))
    for name, cls in _SECTIONS.items():
        variables = {f"AGGREGATOR_{name}_{f.name}".upper(): f for f in fields(cls)}
        for var, f in variables.items():
            if var in env:
                merged[name][f.name] = _from_env(var, env[var], f.type)
        # A typo (`AGGREGATOR_FETCH_CONCURENCY`, or `..._Concurrency`: the names are upper
        # case) would be ignored in silence, where the same typo in config.toml is an error:
        # it is one here too.
        prefix = f"AGGREGATOR_{name}_".upper()
        for var in env:
            if var.startswith(prefix) and var not in variables:
                known = ", ".join(sorted(variables))
                raise ConfigError(f"{var}: no such setting (known: {known})", key=var)
    return merged


def _from_env(var: str, raw: str, type_name: object) -> object:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[
                raw.strip().lower()
            ]
    except (ValueError, KeyError):
        raise ConfigError(f"{var}: expected {kind}, got {raw!r}", key=var) from None
    return raw


def _build_section(name: str, cls: type, values: Mapping[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        qualified = f"{name}.{key}"
        f = known.get(key)
        if f is None:
            raise ConfigError(
                f"unknown setting '{qualified}' (known: {', '.join(sorted(known))})", key=qualified
            )
        kwargs[key] = _check_value(
            qualified, value, str(f.type), f.metadata.get("min"), f.metadata.get("max")
        )
    section = cls(**kwargs)
    if name == "fetch":
        _check_proxy(section.proxy)
    return section


def _check_value(
    key: str, value: object, kind: str, minimum: float | None, maximum: float | None
) -> object:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(f"setting '{key}' must be {_KIND_WORDS[kind]}, got {value!r}", key=key)
    if kind == "float" and not math.isfinite(value):  # type: ignore[arg-type]
        raise ConfigError(f"setting '{key}' must be a finite number, got {value!r}", key=key)
    if kind == "str" and any(ord(c) < 32 or ord(c) == 127 for c in value):  # type: ignore[union-attr]
        # A line break in a header value (user_agent) would fail every request.
        raise ConfigError(f"setting '{key}' must be one line of text, got {value!r}", key=key)
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise ConfigError(f"setting '{key}' must be at least {minimum}, got {value!r}", key=key)
    if maximum is not None and value > maximum:  # type: ignore[operator]
        raise ConfigError(f"setting '{key}' must be at most {maximum}, got {value!r}", key=key)
    return float(value) if kind == "float" else value  # type: ignore[arg-type]


_KIND_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
}


def _check_proxy(proxy: str) -> None:
    if proxy and not proxy.startswith(("http://", "https://", "socks5://", "socks5h://")):
        raise ConfigError(
            f"setting 'fetch.proxy' must be an http://, https://, socks5:// or socks5h:// URL, "
            f"got {proxy!r}",
            key="fetch.proxy",
        )
