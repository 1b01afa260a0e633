"""The server the HTTP benchmarks load: troth's app for the Kestrel example, plus a hello-world
route on the same app (same middleware, same uvicorn) as the baseline.

``server.py PORT --plaintext-values`` serves the vault with its values sealed without
encryption, the baseline for what encryption costs (bench/vault.py). The switch exists only
here, through FastAPI's dependency overrides; troth itself has no setting for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.routing import Mount

from troth.declaration import load_policy
from troth.subjects import DataKey, Keyring, load_master_key
from troth.web import create_app
from troth.web.api import API_PREFIX
from troth.web.api.vault import value_seal

ROOT = Path(__file__).resolve().parent.parent


def plaintext_seal(data_key: DataKey, plaintext: bytes, associated_data: bytes) -> bytes:
    """No encryption: the value behind a format byte that no troth reader accepts."""
    return b"\x00" + plaintext


def main() -> None:
    port = int(sys.argv[1])
    policy = load_policy(ROOT / "examples" / "kestrel" / "privacy.yaml")
    app = create_app(policy, os.environ["TROTH_BENCH_DB"], keyring=Keyring(load_master_key()))
    if "--plaintext-values" in sys.argv[2:]:
        api = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == API_PREFIX)
        assert isinstance(api, FastAPI)
        api.dependency_overrides[value_seal] = lambda: plaintext_seal

    @app.get("/bench/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
