"""The benchmarks still run: `python -m bench` on one serving mode and a tiny load.

A behaviour check, not a timing one: every section comes out with the rows it should have,
every call completes, and nothing fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import relay, throughput
from bench.__main__ import TARGETS, collect, main, parse
from harness import redis_server
from harness.tables import print_table

TINY = ["--quick", "--mode", "gevent", "--pairs", "4", "--duration", "1", "--samples", "5"]
TINY_REDIS = ["--mode", "redis2", "--pairs", "4", "--duration", "1", "--samples", "5"]
RELAY = "1. relay latency, light load: POST to a waiting reader"
THROUGHPUT = "2. throughput: clients in pairs placing calls"


@pytest.fixture
def no_redis_left():
    """The bench's own redis-server (started by a Redis row) is stopped after the test."""
    yield
    redis_server.stop_shared()


def cells(row: tuple[str, ...], header: tuple[str, ...] = throughput.HEADER) -> dict[str, str]:
    """A throughput (or relay) row by column."""
    return dict(zip(header, row, strict=True))


def assert_calls_complete(row: tuple[str, ...], pairs: int = 4) -> None:
    """Every pair placed a call, every call delivered its 26 messages, nothing failed."""
    cell = cells(row)
    calls, delivered = int(cell["calls"].split()[0]), int(cell["delivered"].split()[0])
    assert calls >= pairs
    assert delivered == calls * 26  # offer, answer, 12 candidates each way
    assert cell["of sent"] == "100.00%"
    assert cell["errors"] == "errors 0"
    assert cell["server cpu / msg"].endswith(" ms")
    assert cell["cpu: server / clients / other"].endswith("%")


def assert_relayed(row: tuple[str, ...], sent: str | None = None) -> None:
    """A relay row with every message relayed and the server's cpu for each."""
    cell = cells(row, relay.HEADER)
    assert cell["errors"] == "errors 0"
    assert cell["server cpu"].endswith(" ms / msg")
    if sent is not None:
        assert cell["sent"] == sent


def test_relay_throughput_memory_and_serving_on_a_tiny_load(capsys):
    errors: list[str] = []
    args = parse([*TINY, "--only", "relay,throughput", "--only", "memory,serving"])
    sections = dict(collect(args, errors))
    assert errors == []
    assert list(sections) == [
        "1. relay latency, light load: POST to a waiting reader",
        "2. throughput: clients in pairs placing calls",
        "5. server memory, idle and at its peak during 2 (MiB)",
        "6. serving: relay while many long-polls wait",
        "7. the production recipe",
        TARGETS,
    ]

    light = sections[RELAY]
    assert light[0] == relay.HEADER
    assert [row[:2] for row in light[1:]] == [
        ("  gevent", "interval 500 ms"),
        ("  gevent", "events, held"),
    ]
    for row in light[1:]:
        assert_relayed(row)

    load = sections[THROUGHPUT]
    assert load[0] == throughput.HEADER
    assert [row[:3] for row in load[1:]] == [
        ("  gevent", "interval 500 ms", "8 clients"),
        ("  gevent", "events, held", "8 clients"),
    ]
    for row in load[1:]:
        assert row[3] == "paced 1,000 msg/s"
        assert_calls_complete(row)
        assert cells(row)["of it redis"] == ""
    # 8 clients on 1 worker: 4 connections a tab polling, 3 on the push channel.
    assert [cells(row)["connections per process"] for row in load[1:]] == ["32", "24"]

    memory = sections["5. server memory, idle and at its peak during 2 (MiB)"]
    assert [row[:2] for row in memory[1:]] == [
        ("  gevent", "interval 500 ms"),
        ("  gevent", "events, held"),
    ]
    for row in memory[1:]:
        idle_rss, all_rss, all_pss = (float(cell.removesuffix(" MiB")) for cell in row[2:5])
        assert 0 < all_pss <= all_rss and idle_rss < all_rss  # a master and a worker

    serving = sections["6. serving: relay while many long-polls wait"]
    assert serving[1][:2] == ("  gevent", "500 long-polls held")
    assert serving[1][2].startswith("relayed in ")

    recipe = dict(sections["7. the production recipe"])
    assert recipe["  command"].startswith(
        "gunicorn -k gevent_pywsgi -w 1 --worker-connections 1000 -b 127.0.0.1:"
    )
    assert recipe["  command"].endswith(" 'flask_app.wsgi:app'")
    assert recipe["  GET /"].startswith("200 text/html")
    assert recipe["  GET /healthz"] == "200"
    assert recipe["  check"] == "ok"

    # The targets, checked against the recipe's rows of 1 and 2 (met or not: timing varies).
    targets = sections[TARGETS]
    assert [row[0] for row in targets[1:]] == [
        "  relay p50, gevent",
        "  delivered, gevent, 8 clients, paced 1,000 msg/s",
        "  rate, gevent, 8 clients, paced 1,000 msg/s",
        "  p99, gevent, 8 clients, paced 1,000 msg/s",
        "  errors, gevent, 8 clients, paced 1,000 msg/s",
        "  server cpu / msg, gevent, 8 clients, paced 1,000 msg/s",
    ]
    assert all(row[3] in ("met", "missed") for row in targets[1:])
    assert targets[5][1:] == ("0", "0", "met")  # no errors

    print_table(list(sections.items()))
    assert "errors 0" in capsys.readouterr().out


def test_redis_rows_relay_across_two_processes_and_complete_every_call(no_redis_left):
    errors: list[str] = []
    sections = dict(collect(parse([*TINY_REDIS, "--only", "relay,throughput"]), errors))
    assert errors == []

    light = sections[RELAY]
    # Two workers: the writer's connection is placed in the other process than the reader's,
    # so every wake-up crosses processes through Redis pub/sub.
    assert [row[:2] for row in light[1:]] == [("  redis2, across processes", "events, held")]
    assert_relayed(light[1], sent="5 msgs")

    load = sections[THROUGHPUT]
    assert [row[:4] for row in load[1:]] == [
        ("  redis2", "events, held", "8 clients", "back to back"),
        ("  redis2", "events, held", "8 clients", "paced 1,000 msg/s"),
    ]
    for row in load[1:]:
        assert_calls_complete(row)
        assert cells(row)["of it redis"].endswith("%")
        held = [int(n) for n in cells(row)["connections per process"].split(" + ")]
        assert len(held) == 2 and sum(held) == 24  # 8 clients with 3 connections each
    assert TARGETS not in sections  # the targets are the one-process recipe's

    # The bench's redis-server stops with the run (python -m bench stops it in a finally).
    pid = redis_server.pid()
    assert pid is not None and Path(f"/proc/{pid}").exists()
    redis_server.stop_shared()
    assert redis_server.pid() is None and not Path(f"/proc/{pid}").exists()


def test_a_missing_redis_server_fails_the_redis_rows(monkeypatch, tmp_path, capsys):
    redis_server.stop_shared()
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on it
    assert main([*TINY_REDIS, "--only", "relay,throughput"]) == 1
    out = capsys.readouterr().out
    # A row each (relay; throughput back to back and paced), and an error each: never skipped.
    assert out.count("FAILED: redis-server is missing") == 3
    assert "3 errors;" in out


def test_the_command_line_prints_one_table_and_exits_zero(capsys):
    assert main([*TINY, "--only", "relay"]) == 0
    out = capsys.readouterr().out
    assert "machine and serving modes" in out
    assert "1. relay latency" in out
    assert "0 errors;" in out


def test_unknown_names_are_refused(capsys):
    try:
        parse(["--only", "nope"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("--only nope was accepted")
    assert "unknown --only nope" in capsys.readouterr().err


def test_poll_scaling_polls_a_room_among_many_stored_ones():
    """Section 4 runs on rooms stored as the core stores them, and gives both ratios."""
    from bench import poll_scaling

    header, core, http = poll_scaling.run(samples=5)
    assert header == ("poll of one room (sqlite)", "10 rooms", "10,000 rooms", "ratio")
    for row in (core, http):
        small, large, ratio = (float(cell.split()[0].rstrip("x")) for cell in row[1:])
        assert small > 0 and large > 0
        assert ratio == pytest.approx(large / small, rel=0.02, abs=0.01)


def test_the_bench_modules_run_with_python_m_and_edit_no_import_path():
    """Each benchmark runs as a module of the checkout (`python -m bench.call_setup`), so
    none of bench/, harness/ or tests/ needs to put the checkout on sys.path itself."""
    root = Path(__file__).resolve().parent.parent
    edits = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("bench", "harness", "tests")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith("sys.path.")
    ]
    assert edits == []
    done = subprocess.run(
        [sys.executable, "-m", "bench.call_setup", "--help"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m bench.call_setup")
    assert "--calls" in done.stdout
