"""The serving recipe: can the server relay while it holds many waiting long-polls?

    .venv/bin/python -m bench --only serving
    .venv/bin/python -m bench.serving    # this section alone

N clients each hold a `GET /signal?...&wait=30` open in rooms of their own; then, in another
room, one reader long-polls and one writer posts. A long-poll pins a thread for its whole
wait, so a server with fewer threads than waiting clients cannot even read the post: the
relay times out. The last rows start the production command the docs recommend, exactly as
written (port aside), and check it serves the page and relays over the page's push channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from harness.servers import Server, production_command
from harness.tables import Row, ms, pct, print_table

from .relay import Relay, measure
from .signals import peer_id
from .wire import Conn

HOLD_WAIT = 30
RECIPE_RELAYS, RECIPE_PAUSE = 20, 0.15


async def relay_while_holding(port: int, held: int, timeout: float) -> float | None:
    """Seconds for one relay while ``held`` other long-polls wait; None when it timed out."""
    run_id = peer_id()[:6]
    holders = [Conn(port) for _ in range(held)]
    holding = [
        asyncio.create_task(
            conn.request("GET", f"/signal?room=hold-{run_id}-{n}&type=offer&wait={HOLD_WAIT}")
        )
        for n, conn in enumerate(holders)
    ]
    relay = Relay(port, f"probe-{run_id}")
    waiting: asyncio.Task | None = None
    try:
        await asyncio.sleep(0.5 + held / 1000)  # every holder is in and waiting
        if any(task.done() for task in holding):
            failed = next(task for task in holding if task.done())
            raise RuntimeError(f"a held long-poll ended early: {failed.result()!r}")
        try:
            async with asyncio.timeout(timeout):
                await relay.enter()
                waiting = asyncio.create_task(relay.read(10))
                await asyncio.sleep(0.005)
                sent = await relay.post("probe")
                status, items = await waiting
                received = time.perf_counter()
        except TimeoutError:
            return None
        if status != 200 or len(items) != 1:
            raise RuntimeError(f"relay read {status} {items}")
        return received - sent
    finally:
        for task in [*holding, waiting]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*holding, *[waiting] if waiting else [], return_exceptions=True)
        for conn in holders:
            await conn.close()
        await relay.close()


def hold_row(mode: str, held: int, timeout: float) -> Row:
    with Server(mode) as server:
        took = asyncio.run(relay_while_holding(server.port, held, timeout))
    return (
        f"  {mode}",
        f"{held} long-polls held",
        f"nothing relayed in {timeout:g} s" if took is None else f"relayed in {ms(took)}",
    )


def recipe_rows(quick: bool = False, errors: list[str] | None = None) -> list[Row]:
    """Start the recommended command and check the page, the health check and a relay over
    the push channel."""
    with Server("gevent", limits=True) as server:
        status, body, ctype = server.get("/")
        health = server.get("/healthz")[0]
        # The rate limits are on, as in production (default 20 writes a second per address;
        # a relay writes once, its read is a GET): one relay every 0.15 s stays under them.
        relay = asyncio.run(
            measure(
                server.port,
                "events",
                RECIPE_RELAYS // 2 if quick else RECIPE_RELAYS,
                warmup=0,
                pause=RECIPE_PAUSE,
            )
        )
        command = production_command(server.port)
    lat = relay.latencies
    ok = status == 200 and ctype.startswith("text/html") and health == 200
    ok = ok and not relay.errors and bool(lat)
    if errors is not None and not ok:
        errors.append(
            f"the production recipe failed its check: GET / {status}, /healthz {health}, "
            f"{len(relay.errors)} relay errors, the first: {relay.errors[:3]}"
        )
    return [
        ("production recipe", "as documented (rate limits on), on a free port"),
        ("  command", command),
        ("  GET /", f"{status} {ctype.split(';')[0]}, {len(body)} bytes"),
        ("  GET /healthz", str(health)),
        (
            "  events relay",
            f"{len(lat)} msgs, p50 {ms(pct(lat, 50))}, errors {len(relay.errors)}",
        ),
        ("  check", "ok" if ok else "FAILED"),
    ]


def run(
    quick: bool = False, modes: list[str] | None = None, errors: list[str] | None = None
) -> list[Row]:
    """Relays while long-polls wait, per serving mode (the recipe check: recipe_rows)."""
    timeout = 3.0 if quick else 10.0
    plan = [("gthread8", 50)] + [
        (mode, held) for mode in ("dev", "gthread", "gevent") for held in (50, 500)
    ]
    if quick:
        plan = [("gthread8", 50), ("gevent", 500)]
    rows: list[Row] = [("relay while long-polls wait", "load", "one relay")]
    for mode, held in plan:
        if modes is not None and mode not in modes:
            continue
        try:
            rows.append(hold_row(mode, held, timeout))
        except Exception as exc:
            rows.append((f"  {mode}", f"{held} long-polls held", f"FAILED: {exc}"))
            if errors is not None:
                errors.append(f"serving {mode} {held}: {exc!r}")
    return rows


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        print_table([("serving", run()), ("recipe", recipe_rows())])
