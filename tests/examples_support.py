"""The example declarations under examples/, shared by the example tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from support import ROOT

from troth.declaration import Policy, load_policy

EXAMPLES = ROOT / "examples"
DECLARATIONS = sorted({*EXAMPLES.glob("**/privacy.yaml"), *EXAMPLES.glob("**/history/*.yaml")})
CURRENT = sorted(EXAMPLES.glob("**/privacy.yaml"))
SEEDS = {
    "000": EXAMPLES / "seed-000-space-o" / "privacy.yaml",
    "001": EXAMPLES / "seed-001-space-o-2017" / "privacy.yaml",
    "002": EXAMPLES / "seed-002-ospyn" / "privacy.yaml",
    "003": EXAMPLES / "seed-003-spera-digital" / "privacy.yaml",
}
SEED_FILES = {
    "000": "000_6abedc92da246f0b.txt",
    "001": "001_29b361748c5558e1.txt",
    "002": "002_5d953c655fc032a0.txt",
    "003": "003_7430b612c1ad7840.txt",
}


def name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


@cache
def policy(path: Path) -> Policy:
    return load_policy(path)
