"""Collection into the vault through ``POST /api/v1/collect``, with every value encrypted,
against the same calls to a server that seals values without encryption, in the same run.

Each call is one contact-form submission of five fields from a new person, so each call also
creates a subject (a data key wrapped, an identity encrypted and indexed) on both servers: the
switch removes only the encryption of the values. One client takes turns between the two
servers, call by call, and times each call, so that drift in the machine's load hits both alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from consent import Row, _free_port, _new_key

from troth.apikeys import create_key
from troth.audit import Actor
from troth.store import make_engine, make_sessionmaker, upgrade

CALLS = 2000
WARM_UP = 100


def _submission(n: int) -> bytes:
    email = f"lead.{n}.{uuid.uuid4().hex[:8]}@example.com"
    return json.dumps(
        {
            "identity": {"kind": "email", "value": email},
            "fields": [
                {"category": "user.name", "value": f"Lead Number {n}"},
                {"category": "user.contact.email", "value": email},
                {"category": "user.contact.phone_number", "value": "+91 98220 11234"},
                {"category": "user.contact.organization", "value": "Sahyadri Robotics"},
                {
                    "category": "user.content.private",
                    "value": "We need a warehouse tracking app by March; " * 4,
                },
            ],
            "source": "contact_form",
            "purpose": "answer_inquiries",
            "collection_point": "contact form",
        }
    ).encode()


def _seed(db_url: str) -> str:
    engine = make_engine(db_url)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        _, secret = create_key(
            session,
            name="bench",
            scopes=["vault:write"],
            now=datetime.now(UTC),
            actor=Actor.system("bench"),
        )
    engine.dispose()
    return secret


def _start(db_url: str, port: int, key_b64: str, plaintext: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TROTH_MASTER_KEY": key_b64, "TROTH_BENCH_DB": db_url}
    args = [sys.executable, str(Path(__file__).with_name("server.py")), str(port)]
    process = subprocess.Popen(
        args + (["--plaintext-values"] if plaintext else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/hello", timeout=1)
            return process
        except OSError:
            if process.poll() is not None:
                message = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(message) from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the bench server did not start")


def _server(
    workdir: Path, label: str, plaintext: bool
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """A server on a fresh SQLite database, its collect URL and the headers to call it with."""
    db_url = f"sqlite:///{workdir / f'vault-{label}.db'}"
    _, key_b64 = _new_key()
    secret = _seed(db_url)
    port = _free_port()
    server = _start(db_url, port, key_b64, plaintext)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    return server, f"http://127.0.0.1:{port}/api/v1/collect", headers


def _rates(workdir: Path) -> tuple[float, float]:
    """Submissions per second, encrypted and not, from one client taking turns between the two
    servers call by call, so that the machine's other load falls on both alike."""
    encrypted = _server(workdir, "encrypted", plaintext=False)
    plain = _server(workdir, "plain", plaintext=True)
    spent = {"encrypted": 0.0, "plain": 0.0}
    try:
        for n in range(WARM_UP + CALLS):
            pair = [("encrypted", encrypted), ("plain", plain)]
            for name, (_, url, headers) in pair if n % 2 else reversed(pair):
                payload = _submission(n)
                began = time.perf_counter()
                _post(url, payload, headers)
                if n >= WARM_UP:
                    spent[name] += time.perf_counter() - began
    finally:
        for server, _, _ in (encrypted, plain):
            server.terminate()
            server.wait(timeout=10)
    return CALLS / spent["encrypted"], CALLS / spent["plain"]


def _post(url: str, payload: bytes, headers: dict[str, str]) -> None:
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201, response.status


def main() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        encrypted, plain = _rates(Path(tmp))
    return [
        (
            "submissions (5 fields) via POST /api/v1/collect, SQLite",
            encrypted,
            "calls/s",
            encrypted / plain,
            f"same calls, values not encrypted: {plain:,.0f}/s",
        )
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
