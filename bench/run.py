"""Benchmarks, each against a baseline measured in the same run on the same machine.

Run with `make bench`. Results are printed as a table; docs/performance.md records them with
the command that produced them.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import consent  # bench/consent.py, beside this file
import datasets  # bench/datasets.py
import retention  # bench/retention.py
import vault  # bench/vault.py
from ruamel.yaml import YAML

from troth.declaration import read_declaration
from troth.declaration.render import render_html, render_markdown

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kestrel" / "privacy.yaml"


def timed(fn: Callable[[], object], repeat: int = 7, number: int = 20) -> float:
    """Median seconds per call over `repeat` rounds of `number` calls."""
    fn()  # warm caches (taxonomy, templates)
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def main() -> int:
    text = EXAMPLE.read_text(encoding="utf-8")
    policy, _ = read_declaration(text, str(EXAMPLE))
    assert policy is not None

    def parse_only() -> object:
        return YAML(typ="rt").load(text)

    baseline = timed(parse_only)
    cases = {
        "load + validate + check": lambda: read_declaration(text, str(EXAMPLE)),
        "render markdown": lambda: render_markdown(policy),
        "render html": lambda: render_html(policy),
    }
    print(f"baseline: ruamel.yaml round-trip parse of {EXAMPLE.name}: {baseline * 1e3:.2f} ms")
    print(f"{'case':<28}{'ms/call':>10}{'x baseline':>12}")
    for name, fn in cases.items():
        seconds = timed(fn)
        print(f"{name:<28}{seconds * 1e3:>10.2f}{seconds / baseline:>12.2f}")

    print()
    print(f"{'case':<58}{'rate':>14} {'unit':<12}{'x baseline':>11}  baseline")
    for case, value, unit, ratio, base in [*consent.main(), *vault.main()]:
        print(f"{case:<58}{value:>14,.0f} {unit:<12}{ratio:>11.2f}  {base}")

    print()
    datasets.main()  # prints its own table, or why it was skipped
    print()
    retention.main()  # likewise
    return 0


if __name__ == "__main__":
    sys.exit(main())
