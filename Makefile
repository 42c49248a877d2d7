# pt2jax task runner. `make demo` and `make test` create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-slow test-all lint build lock clean

$(STAMP): pyproject.toml requirements/lock.txt
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } || \
	  echo "warning: bubblewrap (bwrap) is missing: grading refuses to run student code without it"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the locked stack

demo: $(STAMP)  ## build the course, grade examples/submissions through nbgrader, print the grade table
	$(BIN)/pt2jax demo

# pytest exits 5 when it collects nothing: say so, and do not call that a failure.
test: $(STAMP)  ## the default test suite (no slow, no gpu)
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5)"; exit 0; fi; exit $$rc

test-slow: $(STAMP)  ## only the slow tests
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

test-all: $(STAMP)  ## everything but gpu
	$(BIN)/pytest -m "not gpu" $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check src tests autograder examples
	$(BIN)/mypy

build: $(STAMP)  ## regenerate source notebooks, release/ and solutions/ (verified)
	$(BIN)/pt2jax build

lock:  ## re-resolve the stack into requirements/lock.txt (fresh venv)
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -e ".[dev]"
	.lockvenv/bin/pip freeze --exclude-editable | grep -v '^pt2jax' > requirements/lock.txt
	rm -rf .lockvenv

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
