"""Labels of histogram bins: the PSI bins of a numeric feature by their edges ("<12", "12–24",
"≥60"), with numbers written compactly (1.2k, 3M)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Short labels of the bins that `edges` split the line into: "<a", "a–b", ..., "≥z" (a value
    on an edge belongs to the bin above it). Numbers as `compact_number` writes them, with the
    fewest significant digits (2 at least) that keep every edge apart from its neighbours."""
    edges = [float(e) for e in edges]
    if not edges:
        return ["all"]
    for digits in range(2, 18):
        text = [compact_number(e, digits) for e in edges]
        if len(set(text)) == len(text):
            break
    return [f"<{text[0]}"] + [f"{a}–{b}" for a, b in zip(text, text[1:])] + [f"≥{text[-1]}"]


_SCALES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def compact_number(value: float, digits: int = 2) -> str:
    """`value` with `digits` significant digits, briefly: 12, 0.25, 1.5k, 2.4M, 1.2e-5; the
    integer part before a suffix is never cut (123 at two digits stays 123, 123456 is 123k)."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0:
        return "0"
    if size < 1e-3 or size >= 1e15:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{_trim(mantissa)}e{int(exponent)}"
    i = next(i for i, (scale, _) in enumerate(_SCALES) if size >= scale or scale == 1.0)
    while True:
        scale, suffix = _SCALES[i]
        mantissa = value / scale
        decimals = max(digits - (math.floor(math.log10(abs(mantissa))) + 1), 0)
        text = f"{mantissa:.{decimals}f}"
        if abs(float(text)) < 1000 or i == 0:  # 999.7 rounds to 1000: 1k
            return _trim(text) + suffix
        i -= 1


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number
