"""One mechanism for every app's settings namespace (`CLERK`, `THREADS`, `CHAT`, `CLOUD`), as DRF's `api_settings`.

Values are read lazily from `settings.<NAMESPACE>` with the app's defaults and cached; the cache is cleared when
a test overrides the namespace, so `override_settings` and pytest-django's `settings` fixture just work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed


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
            configured = getattr(settings, self._namespace, None) or {}
            self._cache[name] = configured.get(name, self._defaults[name])
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()

    def _setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting in self._reload_on:
            self.reload()
