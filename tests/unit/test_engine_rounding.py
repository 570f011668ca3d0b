"""``round_to`` gives exactly the float ``round`` gives (an incident's member distances and gaps go
through it), pure and compiled: ties, the doubles either side of a tie, zeros, values ``round_to``
hands back to ``round``, and a sample across magnitudes."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from decimal import Decimal

import pytest

from ingest.engine.rounding import round_to

from .conftest import REPO
from .mypyc_build import compiled_tree_or_skip


def decimal_tie(k: int, ndigits: int) -> float:
    """The double nearest to k.5 units of the ``ndigits``-th decimal (2.675 for k=267, ndigits=2)."""
    return float(Decimal(k) / Decimal(10 ** ndigits) + Decimal(5) / Decimal(10 ** (ndigits + 1)))


def cases() -> list[tuple[float, int]]:
    rng = random.Random(20261123)
    found: list[tuple[float, int]] = []
    found += [(2.675, 4), (-0.0, 5), (0.0, -1), (1234.5, -2)]  # digits ``round_to`` leaves to ``round``
    for ndigits in range(4):
        for x in (0.0, -0.0, 0.05, 0.15, 0.25, 2.675, 1.0005, 0.0005, 1e9, 1e9 - 0.05, 1e12 + 0.25, -1.25,
                  123456.7895, math.inf):
            found.append((x, ndigits))
        for _ in range(2000):
            tie = decimal_tie(rng.randrange(10 ** rng.randrange(1, 9)), ndigits)
            found += [(tie, ndigits), (math.nextafter(tie, 0.0), ndigits), (math.nextafter(tie, math.inf), ndigits)]
            found.append((rng.random() * 10 ** rng.uniform(-4, 7), ndigits))
    return found


def rounded(pairs: list[tuple[float, int]]) -> list[str]:
    """``round_to`` of each, as ``repr`` (which tells -0.0 from 0.0)."""
    return [repr(round_to(x, ndigits)) for x, ndigits in pairs]


def test_round_to_is_round() -> None:
    pairs = cases()
    assert rounded(pairs) == [repr(round(x, ndigits)) for x, ndigits in pairs]


@pytest.mark.parametrize(("x", "ndigits", "expected"), [(2.675, 2, 2.67), (1234.5675, 3, 1234.568), (0.25, 1, 0.2),
                                                        (12.25, 1, 12.2), (0.35, 1, 0.3), (-0.0, 1, -0.0)])
def test_ties_round_as_the_stored_value_does(x: float, ndigits: int, expected: float) -> None:
    """2.675 is stored as 2.67499999..., 1234.5675 as 1234.56750000000011; 0.25 and 12.25 are exact
    ties, which go to the even digit."""
    assert repr(round_to(x, ndigits)) == repr(expected)


def test_the_compiled_round_to_is_round(tmp_path_factory: pytest.TempPathFactory) -> None:
    tree = compiled_tree_or_skip(REPO, tmp_path_factory.mktemp("compiled-engine"))
    pairs = cases()
    script = ("import json, sys\nfrom ingest.engine import rounding\n"
              "pairs = json.load(sys.stdin)\n"
              "print(json.dumps({'file': rounding.__file__, "
              "'rounded': [repr(rounding.round_to(x, n)) for x, n in pairs]}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tree.root, env={**os.environ, "PYTHONPATH": str(tree.root)},
                          input=json.dumps(pairs), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["file"].endswith(".so"), f"round_to ran from {report['file']}, not the build"
    assert report["rounded"] == [repr(round(x, ndigits)) for x, ndigits in pairs]
