"""The server the HTTP benchmarks load: troth's app for the Kestrel example, plus a hello-world
route on the same app (same middleware, same uvicorn) as the baseline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn

from troth.declaration import load_policy
from troth.subjects import Keyring, load_master_key
from troth.web import create_app

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    port = int(sys.argv[1])
    policy = load_policy(ROOT / "examples" / "kestrel" / "privacy.yaml")
    app = create_app(policy, os.environ["TROTH_BENCH_DB"], keyring=Keyring(load_master_key()))

    @app.get("/bench/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
