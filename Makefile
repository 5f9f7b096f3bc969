# Lantian: `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
PORT   ?= 8050
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m dashboard.translations compile
	touch $(STAMP)

install: $(STAMP)

# Synthetic demo city (clearly labelled) in the embedded SQLite database, then the dashboard.
# --peers key-168: one SYNTHETIC station for each other of the 168 key cities (SYNP001 …),
# so that the ranking and objectives pages show a complete ranking (about 30 s more).
# The local trial account demo / lantian-demo is an administrator: never create it on a
# server others can reach.
demo: install
	$(BIN)/lantian init --sites config/sites/yangquan.yaml
	$(BIN)/lantian demo --peers key-168
	echo lantian-demo | $(BIN)/lantian users add demo --role admin --password-stdin --exist-ok
	@$(BIN)/python -m lantian.fonts || true
	@echo "Sign in at http://127.0.0.1:$(PORT)/login as demo / lantian-demo (public page: /public)"
	$(BIN)/lantian serve --host 127.0.0.1 --port $(PORT)

# Whole suite, database tests on SQLite and PostgreSQL (see tests/conftest.py).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# After editing dashboard/locale/*/LC_MESSAGES/lantian.po: check the catalogs against the
# code, refresh their "used at" references and compile the .mo files.
translations: install
	$(BIN)/python -m dashboard.translations check
	$(BIN)/python -m dashboard.translations update
	$(BIN)/python -m dashboard.translations compile

bench: install
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
