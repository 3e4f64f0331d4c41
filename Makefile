# The two commands of the README: `make serve` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-fast install clean ensure-dovecot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/gateway db upgrade
	$(BIN)/gateway serve

test: $(STAMP) ensure-dovecot
	bash deploy/ensure-postgres.sh
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# parsers and unit tests only: no database server, no network, seconds
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/parsers tests/unit $(PYTEST_ARGS)

# The IMAP tests run a real Dovecot (Debian's dovecot-imapd): installed here when missing, if we may
# (root or password-less sudo, and apt-get). Without it those tests are skipped, except under CI=true.
ensure-dovecot:
	@if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing dovecot-imapd for the IMAP tests"; \
	    $$SUDO apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null; \
	  else \
	    echo "Dovecot is not installed (apt-get install dovecot-imapd); the IMAP tests will be skipped (and fail in CI)" >&2; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) var
