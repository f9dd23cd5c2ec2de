"""The benchmarks still run: `python -m bench` on one serving mode and a tiny load.

A behaviour check, not a timing one: every section comes out with the rows it should have,
every call completes, and nothing fails.
"""

from __future__ import annotations

from bench import throughput
from bench.__main__ import collect, main, parse
from bench.common import print_table

TINY = ["--quick", "--mode", "gevent", "--pairs", "4", "--duration", "1", "--samples", "5"]


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
    ]

    relay = sections["1. relay latency, light load: POST to a waiting reader"]
    assert [row[:2] for row in relay[1:]] == [
        ("  gevent", "interval 500 ms"),
        ("  gevent", "long-poll wait=10"),
    ]
    assert all(row[-1] == "errors 0" for row in relay[1:])

    load = sections["2. throughput: clients in pairs placing calls"]
    assert load[0] == throughput.HEADER
    assert [row[:3] for row in load[1:]] == [
        ("  gevent", "interval 500 ms", "8 clients"),
        ("  gevent", "long-poll wait=10", "8 clients"),
    ]
    for row in load[1:]:
        assert row[3] == "paced 1,000 msg/s"
        calls, delivered = int(row[4].split()[0]), int(row[5].split()[0])
        assert calls >= 4  # every pair placed a call
        assert delivered == calls * 26  # offer, answer, 12 candidates each way
        assert row[-2] == "errors 0"
        assert row[-1].endswith("%")

    memory = sections["5. server memory, idle and at its peak during 2 (MiB)"]
    assert [row[:2] for row in memory[1:]] == [
        ("  gevent", "interval 500 ms"),
        ("  gevent", "long-poll wait=10"),
    ]
    for row in memory[1:]:
        idle_rss, all_rss, all_pss = (float(cell.removesuffix(" MiB")) for cell in row[2:5])
        assert 0 < all_pss <= all_rss and idle_rss < all_rss  # a master and a worker

    serving = sections["6. serving: relay while many long-polls wait"]
    assert serving[1][:2] == ("  gevent", "500 long-polls held")
    assert serving[1][2].startswith("relayed in ")

    recipe = dict(sections["7. the production recipe"])
    assert recipe["  command"].startswith(
        "gunicorn -k gevent -w 1 --worker-connections 1000 -b 127.0.0.1:"
    )
    assert recipe["  command"].endswith(" 'flask_app.wsgi:app'")
    assert recipe["  GET /"].startswith("200 text/html")
    assert recipe["  GET /healthz"] == "200"
    assert recipe["  check"] == "ok"

    print_table(list(sections.items()))
    assert "errors 0" in capsys.readouterr().out


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
