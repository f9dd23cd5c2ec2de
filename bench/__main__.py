"""Every benchmark in one run, one table: `.venv/bin/python -m bench`.

    .venv/bin/python -m bench                    # everything (about 5 minutes)
    .venv/bin/python -m bench --quick            # a short smoke run (under a minute)
    .venv/bin/python -m bench --only relay --only serving
    .venv/bin/python -m bench --mode gevent      # only that serving mode where modes vary
    .venv/bin/python -m bench --mode redis2      # the recipe with 2 processes on Redis
    .venv/bin/python -m bench --only rtt         # a call over a slow link (bench/rtt.py)

The redisN modes run on a redis-server the bench starts for the run (and stops at its end).

docs/benchmarks.md explains each section and holds the results of a full run. The last
section checks the production recipe's targets against sections 1 and 2.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable

from harness import redis_server, servers
from harness.servers import MODES, ROOT
from harness.tables import Row, print_table

from . import poll_scaling, relay, serving, throughput

Section = tuple[str, list[Row]]
NAMES = ("relay", "throughput", "call_setup", "poll_scaling", "memory", "serving", "rtt")
TARGETS = "targets: the production recipe (gevent), its push channel"


def call_setup_sections(quick: bool) -> list[Section]:
    """3. The browser benchmark (bench/call_setup.py), when it is there."""
    title = "3. call setup in headless Chromium (bench/call_setup.py)"
    try:
        from . import call_setup
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.call_setup":
            raise
        return [(title, [("call setup", "missing: bench/call_setup.py is not there yet")])]
    run = getattr(call_setup, "run", None)
    if run is None:
        return [(title, [("call setup", "missing: bench/call_setup.py has no run()")])]
    kwargs = {"quick": quick} if "quick" in inspect.signature(run).parameters else {}
    rows = run(**kwargs)
    return [(title, [tuple(str(cell) for cell in row) for row in rows])]


def collect(args: argparse.Namespace, errors: list[str]) -> list[Section]:
    """Run what was asked; the sections in the order of the issue's list."""
    only = set(args.only or NAMES)
    modes = args.mode or None
    sections: list[Section] = []
    targets: list[Row] = []  # (target, wanted, measured, met or missed) from 1 and 2

    def attempt(name: str, job: Callable[[], list[Section]]) -> None:
        start = time.monotonic()
        try:
            found = job()
        except Exception as exc:
            errors.append(f"{name}: {exc!r}")
            found = [(name, [(name, f"FAILED: {exc!r}")])]
        sections.extend(found)
        print(f"[bench] {name}: {time.monotonic() - start:.0f} s", file=sys.stderr)

    if "relay" in only:

        def light() -> list[Section]:
            results = relay.run_results(args.quick, modes, args.samples)
            errors.extend(relay.errors_of(results))
            targets.extend(relay.target_rows(results))
            rows = [relay.HEADER, *(relay.row(r) for r in results)]
            return [("1. relay latency, light load: POST to a waiting reader", rows)]

        attempt("relay", light)
    if only & {"throughput", "memory"}:

        def load() -> list[Section]:
            results = throughput.run_results(args.quick, modes, args.pairs, args.duration)
            for result in results:
                errors.extend(f"throughput {result.mode}: {e}" for e in result.totals.errors)
            targets.extend(throughput.target_rows(results))
            found = []
            if "throughput" in only:
                rows = [throughput.HEADER, *(throughput.row(r) for r in results)]
                found.append(("2. throughput: clients in pairs placing calls", rows))
            if "memory" in only:
                title = "5. server memory, idle and at its peak during 2 (MiB)"
                found.append((title, throughput.memory_rows(results)))
            return found

        attempt("throughput", load)
    if "call_setup" in only:
        attempt("call_setup", lambda: call_setup_sections(args.quick))
    if "poll_scaling" in only:
        samples = 300 if args.quick else poll_scaling.SAMPLES

        def poll() -> list[Section]:
            # poll_scaling builds apps in this process: keep their start-up warnings quiet.
            with contextlib.redirect_stderr(io.StringIO()):
                rows = poll_scaling.run(samples)
            return [("4. one room's poll, Flask test client, no network", rows)]

        attempt("poll_scaling", poll)
    if "serving" in only:

        def serve() -> list[Section]:
            rows = serving.run(args.quick, modes, errors)
            found = [("6. serving: relay while many long-polls wait", rows)]
            if modes is None or "gevent" in modes:
                found.append(("7. the production recipe", serving.recipe_rows(args.quick, errors)))
            return found

        attempt("serving", serve)
    if "rtt" in only:

        def slow_link() -> list[Section]:
            from . import rtt  # Playwright, only when asked for

            found = rtt.run(args.quick)
            return [(f"8. {title[0].lower()}{title[1:]}", rows) for title, rows in found]

        attempt("rtt", slow_link)
    # Keep the order: 5 (memory, measured during 2) after 4.
    order = {f"{n}.": n for n in range(1, 8)}
    sections.sort(key=lambda section: order.get(section[0][:2], len(order)))
    if targets:
        sections.append((TARGETS, [("target", "wanted", "measured", ""), *targets]))
    return sections


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews every number."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine() -> Section:
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    rows: list[Row] = [
        ("machine", "value"),
        ("  cpus", f"{os.cpu_count()} x {cpu_model()} (bench client and server share them)"),
        ("  python", platform.python_version()),
        ("  commit", commit or "?"),
        ("  load average at start", load_average()),
        ("serving modes", "command"),
        *((f"  {name}", what) for name, (what, _) in MODES.items()),
    ]
    return ("machine and serving modes", rows)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 1 minute)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        type=lambda value: [name.strip() for name in value.split(",") if name.strip()],
        help=f"run only these (repeat, or separate with commas): {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--mode",
        action="append",
        choices=list(MODES),
        help="only this serving mode where modes are compared (repeat for more)",
    )
    parser.add_argument("--pairs", type=int, help=f"rooms in 2 (default {throughput.PAIRS})")
    parser.add_argument(
        "--duration",
        type=float,
        help=f"seconds of calls per run of 2 ({throughput.DURATION:g}; "
        f"{throughput.REDIS_DURATION:g} on Redis)",
    )
    parser.add_argument("--samples", type=int, help="messages relayed per row of 1")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="S",
        help="before starting each server, wait up to S seconds for other work to stop; "
        "rerun (twice at most) a run of 2 that other work disturbed",
    )
    args = parser.parse_args(argv)
    if args.only:
        args.only = [name for names in args.only for name in names]
        unknown = set(args.only) - set(NAMES)
        if unknown:
            parser.error(f"unknown --only {', '.join(sorted(unknown))}; choose from {NAMES}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    servers.SETTLE = args.settle
    start = time.monotonic()
    errors: list[str] = []
    head = machine()
    try:
        sections = [head, *collect(args, errors)]
    finally:
        redis_server.stop_shared()  # started by the first Redis row, if any ran
    head[1].insert(5, ("  load average at end", load_average()))
    print()
    print_table(sections)
    print()
    print(f"{len(errors)} errors; {time.monotonic() - start:.0f} s in all")
    for error in errors[:20]:
        print(f"  {error[:300]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
