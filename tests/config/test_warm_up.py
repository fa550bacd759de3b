"""Warm workers: importing `config.asgi` (what uvicorn does before taking traffic) has already resolved the URL
configuration, imported every face's views and read the settings; `WARM_UP=false` leaves it all lazy. (No timing
here: `bench/first_request.py` measures the effect.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.paths import ROOT

PROBE = (
    "import json, sys, config.asgi; from django.urls import get_resolver; "
    "from chatauth.clerk.conf import clerk_settings; from threads.chat import upstream; "
    "print(json.dumps({'resolved': bool(get_resolver()._populated), "
    "'tls': upstream.tls_context.cache_info().currsize, "
    "'views': all(m in sys.modules for m in ('threads.chat.views', 'threads.cloud.views', 'threads.api.views')), "
    "'settings': len(clerk_settings._cache)}))"
)


def probe(**env: str) -> dict:
    basics = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV"}}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**basics, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_application_is_warm_when_imported() -> None:
    warm = probe()
    assert warm["resolved"] and warm["views"] and warm["settings"] > 5


def test_warm_up_can_be_turned_off() -> None:
    cold = probe(WARM_UP="false")
    assert not cold["resolved"] and not cold["views"]


def test_a_worker_with_a_model_has_the_model_clients_tls_context_built_when_imported() -> None:
    assert probe(OPENAI_API_KEY="sk-warm-up")["tls"] == 1


def test_the_offline_development_model_leaves_the_tls_context_unbuilt() -> None:
    assert probe()["tls"] == 0
