# make run: set up and serve the app on http://127.0.0.1:5000 with the embedded store.
# make test: set up (Chromium, Firefox ESR and puppeteer-core included), run every test.
# make lan: serve the app to other machines on https:// with a self-made certificate.
# make test SKIP_BROWSER=1 skips the browser tests on a machine without one (never in CI).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run lan test lint format browser firefox redis-server coturn bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.app: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.app
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(VENV)/.lan: $(VENV)/.app
	$(BIN)/pip install -q -e '.[lan]'
	touch $@

run: $(VENV)/.app
	$(BIN)/flask run

# Other machines on the network open https://THIS-MACHINE:5000/: browsers give cameras only to
# https:// pages (or localhost). `flask lan-cert` makes the certificate once (the `lan` extra
# brings cryptography for it) and keeps it in instance/, so each browser warns once, also
# across restarts; FLASK_RUN_PORT=8443 picks another port.
LAN_CERT := instance/lan-cert.pem
LAN_KEY := instance/lan-key.pem

lan: $(VENV)/.lan
	$(BIN)/flask lan-cert && $(BIN)/flask run --host 0.0.0.0 --cert $(LAN_CERT) --key $(LAN_KEY)

# Debian packages the tests drive for real: Chromium, Firefox ESR, and redis-server and coturn's
# turnserver (both started by the tests).
browser: redis-server coturn firefox
ifndef SKIP_BROWSER
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
endif

FIREFOX_NODE_MODULES := tests/firefox/node_modules/.package-lock.json

# Firefox ESR, and puppeteer-core (npm, tests/firefox) that drives it and Chromium for the
# calls between browsers (tests/test_firefox.py); never a browser download.
firefox: $(if $(SKIP_BROWSER),,$(FIREFOX_NODE_MODULES))
ifndef SKIP_BROWSER
	@command -v firefox-esr >/dev/null 2>&1 || { \
	  echo "Installing Debian's firefox-esr for the Firefox browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr; }
endif

$(FIREFOX_NODE_MODULES): tests/firefox/package.json tests/firefox/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "Installing Debian's nodejs and npm for the Firefox browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd tests/firefox && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "Installing Debian's redis-server for the Redis store tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# coturn's turnserver, started by the TURN tests on loopback ports of their own. Installing the
# package enables its system service on a systemd host: disabled and stopped at once (the
# tests never use it; `systemctl enable --now coturn` to run one, with /etc/turnserver.conf).
coturn:
	@command -v turnserver >/dev/null 2>&1 || { \
	  echo "Installing Debian's coturn for the TURN tests (its system service stays off)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn && \
	  if [ -d /run/systemd/system ]; then $(SUDO) systemctl disable --now coturn.service; fi; }

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Two workers (pytest-xdist), a module each at a time: the soak and the browsers' calls wait
# on the network and on timers far more than they use a core. --no-loadscope-reorder keeps
# the longest modules first (tests/conftest.py's LONGEST_FIRST): by default xdist reorders
# modules by their number of tests, which put the one-test soak last.
test: $(VENV)/.test browser lint
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=12 $(if $(SKIP_BROWSER),-m "not browser") $(PYTEST_ARGS)

bench: $(VENV)/.test browser
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache tests/firefox/node_modules
