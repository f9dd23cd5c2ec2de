"""What the benchmarks share: realistic signals, percentiles and formatting."""

from __future__ import annotations

import math
import uuid

Row = tuple[str, ...]

# An offer/answer about the size a browser makes for audio, video and a data channel.
SDP_BODY = "".join(f"a=x-filler-{n:02d}:{'x' * 40}\r\n" for n in range(60))  # ~3.4 KB


def description(kind: str, tag: str) -> dict:
    """An RTCSessionDescription; ``tag`` makes it recognisable to its reader."""
    return {"type": kind, "sdp": f"v=0\r\no=- {tag} 2 IN IP4 127.0.0.1\r\n{SDP_BODY}"}


def candidate(tag: str) -> dict:
    """An RTCIceCandidate as JSON; ``tag`` (no spaces) is its foundation."""
    return {
        "candidate": f"candidate:{tag} 1 udp 2122260223 192.0.2.10 54321 typ host generation 0",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }


def tag_of(payload: dict) -> str:
    """The tag a :func:`description` or :func:`candidate` was made with."""
    if "sdp" in payload:
        return payload["sdp"].split("\r\n", 2)[1].split()[1]
    return payload["candidate"].split()[0].removeprefix("candidate:")


def peer_id() -> str:
    """A random peer id like the page's (22 characters)."""
    return uuid.uuid4().hex[:22]


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
    return f"{kib / 1024:.1f} MiB"


def print_table(sections: list[tuple[str, list[Row]]]) -> None:
    """Sections of rows (each section's first row is its header), each aligned on its own."""
    rule = 0
    for _title, rows in sections:
        columns = max(len(row) for row in rows)
        widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(columns)]
        rule = max(rule, sum(widths) + 2 * (columns - 1))
    for n, (title, rows) in enumerate(sections):
        columns = max(len(row) for row in rows)
        widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(columns)]
        if n:
            print()
        print(title)
        print("-" * min(rule, 100))
        for row in rows:
            cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
            print("  ".join(cells).rstrip())
