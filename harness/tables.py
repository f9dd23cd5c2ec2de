"""Tables of results: rows of text cells, the numbers in them, and printing them aligned."""

from __future__ import annotations

import math

Row = tuple[str, ...]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation; nan when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, with precision to match."""
    if math.isnan(seconds):
        return "-"
    value = seconds * 1e3
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{digits}f} ms"


def mib(kib: int) -> str:
    """KiB as MiB, to a tenth."""
    return f"{kib / 1024:.1f} MiB"


def widths(rows: list[Row]) -> list[int]:
    """The width of each column: its longest cell (rows may be shorter than others)."""
    columns = max(len(row) for row in rows)
    return [max(len(row[i]) for row in rows if i < len(row)) for i in range(columns)]


def print_table(sections: list[tuple[str, list[Row]]]) -> None:
    """Sections of rows (each section's first row is its header), each aligned on its own,
    under one rule as wide as the widest section (100 characters at most)."""
    aligned = [(title, rows, widths(rows)) for title, rows in sections]
    rule = max((sum(w) + 2 * (len(w) - 1) for _, _, w in aligned), default=0)
    for n, (title, rows, columns) in enumerate(aligned):
        if n:
            print()
        print(title)
        print("-" * min(rule, 100))
        for row in rows:
            cells = [cell.ljust(w) for cell, w in zip(row, columns, strict=False)]
            print("  ".join(cells).rstrip())
