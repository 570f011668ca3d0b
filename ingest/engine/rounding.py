"""``round(x, ndigits)`` for the distances and gaps an incident states, without its decimal round trip.

CPython rounds a float to ``ndigits`` decimals by printing it as a decimal string and reading it back
(about a microsecond); an incident states two rounded numbers per member. ``round_to`` gives the
same float, much faster, whenever the scaled value is not within a hair of a tie, and asks
``round`` itself otherwise:

- ``p = x * 10**ndigits`` is the exact product to within half a unit in its last place, far less
  than ``TIE_MARGIN`` below 1e9, so away from ties ``p`` and the exact product round to the same integer ``k``;
- ``k / 10**ndigits`` divides two exactly represented numbers, so it is the double nearest to the
  decimal ``k`` times ``10**-ndigits``, which is what reading the decimal string back gives.
"""

from __future__ import annotations

import math
from typing import Final

TIE_MARGIN: Final = 1e-6  # how far from a tie the scaled value must be (its error is below 1e-7 under LIMIT)
LIMIT: Final = 1e9


def scale_of(ndigits: int) -> float:
    """``10 ** ndigits`` for 0 to 3 digits (each exact in binary); 0.0 for any other number of digits."""
    if ndigits == 1:
        return 10.0
    if ndigits == 3:
        return 1000.0
    if ndigits == 2:
        return 100.0
    return 1.0 if ndigits == 0 else 0.0


def round_to(x: float, ndigits: int) -> float:
    """``round(x, ndigits)``, the same float; fast for ``0 <= ndigits <= 3``."""
    scale = scale_of(ndigits)
    p = x * scale
    if 0.0 < p < LIMIT:
        k = math.floor(p)
        fraction = p - k  # exact (Sterbenz): ``k`` is 0 or at least p / 2
        if fraction < 0.5 - TIE_MARGIN:
            return k / scale
        if fraction > 0.5 + TIE_MARGIN:
            return (k + 1) / scale
    elif x == 0.0 and scale > 0.0:
        return x  # keeps the sign of a negative zero, as ``round`` does
    return round(x, ndigits)
