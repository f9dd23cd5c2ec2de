"""What the tests and the benchmarks share: one copy each, never shipped in the wheel.

Small modules, one job each: the loopback address and free ports (network), a JSON client of a
running server (endpoint), the app in its own process (servers) and what /proc says of it
(procfs), a redis-server of its own (redis_server), the page in headless Chromium (browser,
with the page probes in probes.js), tables of results (tables) and a hand-moved clock (clock).
Neither tests/ nor bench/ imports the other; both import this.
"""
