"""Many p-values on one table: family-wise (Holm) and false-discovery (BH) adjustment, and the
compact letter display of which rows differ.

- Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Statist.
  6:65-70: controls the family-wise error rate under any dependence between the tests.
- Benjamini & Hochberg (1995), "Controlling the false discovery rate", J. R. Statist. Soc. B
  57:289-300: controls the false discovery rate (independent or positively dependent tests).
- Compact letter display by insert-and-absorb (Piepho 2004, "An algorithm for a letter-based
  representation of all-pairwise comparisons", J. Comput. Graph. Statist. 13:456-466): rows
  that share a letter are not significantly different.

The adjusted p-values are those of ``statsmodels.stats.multitest.multipletests`` (``holm``,
``fdr_bh``); tests check them against hand-computed values.
"""

from __future__ import annotations

import string
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

from eegbench.contract.errors import ConfigError

CORRECTIONS = ("holm", "bh")
"""Adjustments a leaderboard offers: Holm's step-down (default) or Benjamini-Hochberg."""


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    arr = np.asarray(p, dtype=np.float64)
    m = arr.size
    order = np.argsort(arr, kind="stable")
    scaled = (m - np.arange(m)) * arr[order]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted.tolist()


def benjamini_hochberg(p: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjusted p-values (q-values), in the order given."""
    arr = np.asarray(p, dtype=np.float64)
    m = arr.size
    order = np.argsort(arr, kind="stable")[::-1]
    scaled = m / (m - np.arange(m)) * arr[order]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled), 1.0)
    return adjusted.tolist()


def adjust(p: Sequence[float], method: str = "holm") -> list[float]:
    """``p`` adjusted for multiplicity by ``method`` (one of ``CORRECTIONS``)."""
    if method not in CORRECTIONS:
        raise ConfigError(f"unknown correction {method!r}; valid: {', '.join(CORRECTIONS)}.")
    if len(p) == 0:
        return []
    return holm(p) if method == "holm" else benjamini_hochberg(p)


def _letters(n: int) -> list[str]:
    alphabet = string.ascii_lowercase
    return [alphabet[i] if i < 26 else alphabet[i // 26 - 1] + alphabet[i % 26] for i in range(n)]


def compact_letters(
    ranked: Sequence[Hashable], different: Iterable[tuple[Hashable, Hashable]]
) -> dict[Hashable, str]:
    """Letters per item: items sharing a letter are not in ``different``.

    ``ranked`` lists the items best first; letter ``a`` goes to the group of the best item.
    """
    index = {item: i for i, item in enumerate(ranked)}
    columns: list[set[int]] = [set(range(len(ranked)))]
    for a, b in different:
        i, j = index[a], index[b]
        grown: list[set[int]] = []
        for col in columns:
            if i in col and j in col:
                grown += [col - {i}, col - {j}]
            else:
                grown.append(col)
        columns = [c for c in grown if not any(c < o for o in grown)]
        columns = [c for k, c in enumerate(columns) if c not in columns[:k]]
    columns.sort(key=lambda c: (min(c), sorted(c)))
    names = _letters(len(columns))
    return {
        item: "".join(names[k] for k, col in enumerate(columns) if index[item] in col)
        for item in ranked
    }
