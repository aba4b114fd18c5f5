# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both build .venv from the pinned requirements.lock when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format clean browser

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/searcher run --budget-gflops 20

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest -q -n auto --dist loadscope

# The edit loop, under a minute: all but the tests marked slow (real processes, servers, searches).
# pytest-xdist runs one worker per core and each test module on one worker (its fixtures built once).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadscope -m "not slow"

# Headless Chromium for the dashboard's browser test (Debian's package; playwright drives it).
browser:
	@test -x /usr/bin/chromium || { (apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q chromium) >/dev/null 2>&1 || echo "chromium unavailable: the browser test will skip"; }

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) runs test-output
