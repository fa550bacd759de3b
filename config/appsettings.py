"""One mechanism for every app's settings namespace (`CLERK`, `THREADS`, `CHAT`, `CLOUD`, `OPS`, `WEBAPP`).

Each app declares its settings once, with their defaults, in its own `DEFAULTS`. A value is read lazily, in this
order: the Django setting `<NAMESPACE>[name]` (what tests override), else the environment variable
(`<NAMESPACE>_<NAME>` unless the `Setting` names another, read with django-environ and cast by the default's
type), else the default (a callable default is computed on first read, e.g. from `DEBUG`). Values are cached;
the cache is cleared when a test overrides the namespace, so `override_settings` and pytest-django's
`settings` fixture just work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import environ
from django.conf import settings
from django.core.signals import setting_changed

env = environ.Env()


@dataclass(frozen=True)
class Setting:
    """A setting whose environment variable or parsing is not the plain `<NAMESPACE>_<NAME>` of its default's type.

    `default` may be a zero-argument callable (computed on first read); `env=""` means no variable (a derived
    setting); `cast` is one of str, bool, int, float, list or "json"; `parse` post-processes the value read.
    """

    default: Any
    env: str | None = None
    cast: Any = None
    parse: Callable[[Any], Any] | None = None


def _read_env(name: str, cast: Any) -> Any:
    if cast is bool:
        return env.bool(name)
    if cast is int:
        return env.int(name)
    if cast is float:
        return env.float(name)
    if cast is list:
        return env.list(name)
    if cast == "json":
        return env.json(name)
    return env.str(name)


class AppSettings:
    def __init__(self, namespace: str, defaults: dict[str, Any], *, reload_on: Iterable[str] = ()) -> None:
        self._namespace = namespace
        self._defaults = defaults
        self._reload_on = {namespace, *reload_on}
        self._cache: dict[str, Any] = {}
        setting_changed.connect(self._setting_changed, weak=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"Invalid {self._namespace} setting: {name!r}")
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        return self._cache[name]

    def _resolve(self, name: str) -> Any:
        configured = getattr(settings, self._namespace, None) or {}
        if name in configured:
            return configured[name]
        spec = self._defaults[name]
        if not isinstance(spec, Setting):
            spec = Setting(spec)
        variable = f"{self._namespace}_{name}" if spec.env is None else spec.env
        default = spec.default() if callable(spec.default) else spec.default
        if variable and variable in env.ENVIRON:
            value = _read_env(variable, spec.cast or type(default))
            return spec.parse(value) if spec.parse else value
        return default

    def names(self) -> list[str]:
        return list(self._defaults)

    def reload(self) -> None:
        self._cache.clear()

    def _setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting in self._reload_on:
            self.reload()
