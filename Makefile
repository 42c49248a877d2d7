# pt2jax task runner. `make demo` and `make test` create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Debian packages the tests need, installed by the first `make` when run as root: bubblewrap (the
# grader's sandbox) and chromium (the browser the e2e test drives).
APT_PKGS := bubblewrap chromium chromium-driver
# JupyterLab: one server per role; both use the exchange in the project (PT2JAX_EXCHANGE overrides it)
EXCHANGE    ?= $(CURDIR)/exchange
STUDENT_DIR ?= build/student
LAB_ARGS    ?=
LAB_ROOT    := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# JupyterHub's proxy (npm, pinned by lab/hub/package-lock.json), installed with the venv
CHP         := build/node/node_modules/.bin/configurable-http-proxy
HUB_ARGS    ?=

.PHONY: setup demo test test-slow test-all test-e2e lint build lock clean lab lab-student screenshots hub

$(STAMP): pyproject.toml requirements/lock.txt | $(CHP)
	@{ command -v bwrap >/dev/null && command -v chromium >/dev/null; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq $(APT_PKGS) >/dev/null; } || \
	  echo "warning: missing bubblewrap or chromium ($(APT_PKGS)): grading refuses to run student code" \
	       "without bwrap, and the e2e test fails without chromium"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e ".[dev,deploy]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the locked stack (and JupyterHub's proxy in build/node)

$(CHP): lab/hub/package.json lab/hub/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing (apt-get install nodejs npm): make hub needs it"; exit 1; }
	mkdir -p build/node && cp lab/hub/package.json lab/hub/package-lock.json build/node/
	npm ci --prefix build/node --omit=dev --no-audit --no-fund --loglevel=error
	touch $(CHP)

demo: $(STAMP)  ## build the course, grade examples/submissions through nbgrader, print the grade table
	$(BIN)/pt2jax demo

# pytest exits 5 when it collects nothing: say so, and do not call that a failure; any other
# non-zero exit fails the target.
PYTEST = rc=0; $(BIN)/pytest $(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5)"; exit 0; fi; exit $$rc

# the default suite runs on TEST_WORKERS pytest-xdist workers, a module at a time (--dist loadscope: a
# module's shared fixtures are made once); TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2
test: $(STAMP)  ## the fast default suite (not slow, not gpu; includes the browser test), on 2 workers
	@$(call PYTEST,-n $(TEST_WORKERS) --dist loadscope)

test-slow: $(STAMP)  ## only the slow tests (every wrong-but-plausible variant graded in full)
	@$(call PYTEST,-m slow)

test-all: $(STAMP)  ## everything but gpu
	@$(call PYTEST,-m "not gpu")

test-e2e: $(STAMP)  ## only the browser end-to-end test (writes build/screenshots/)
	$(BIN)/pytest -m e2e tests/test_e2e.py $(PYTEST_ARGS)

screenshots: test-e2e  ## run the e2e test and copy its screenshots to docs/img/ (shown in README)
	mkdir -p docs/img
	cp build/screenshots/student_*.png build/screenshots/instructor_*.png docs/img/
	! ls build/screenshots/hub_*.png >/dev/null 2>&1 || cp build/screenshots/hub_*.png docs/img/  # from tests/test_hub.py (make test-slow)

$(EXCHANGE):
	mkdir -p $@ && chmod 777 $@  # nbgrader's exchange root must be world-writable

lab: $(STAMP) | $(EXCHANGE)  ## JupyterLab for the instructor on this course (formgrader, create assignment)
	$(BIN)/python -m pt2jax.build.formgrader
	PT2JAX_EXCHANGE=$(EXCHANGE) JUPYTER_CONFIG_PATH=$(CURDIR)/lab/instructor PATH=$(CURDIR)/$(BIN):$$PATH \
	  $(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.app_settings_dir=$(CURDIR)/lab/instructor/settings \
	  $(LAB_ROOT) $(LAB_ARGS)

lab-student: $(STAMP) | $(EXCHANGE)  ## JupyterLab as a student (assignment list) in $(STUDENT_DIR)
	mkdir -p $(STUDENT_DIR)
	cd $(STUDENT_DIR) && PT2JAX_EXCHANGE=$(EXCHANGE) JUPYTER_CONFIG_PATH=$(CURDIR)/lab/student \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/jupyter lab --ServerApp.root_dir=. \
	  --LabApp.app_settings_dir=$(CURDIR)/lab/student/settings $(LAB_ROOT) $(LAB_ARGS)

hub: $(STAMP)  ## JupyterHub on loopback (as root): PAM accounts, formgrader service, sandboxed grading (docs/deploy.md)
	$(BIN)/python -m pt2jax.hub $(HUB_ARGS)

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check src tests autograder examples
	$(BIN)/mypy

build: $(STAMP)  ## regenerate source notebooks, release/ and solutions/ (verified)
	$(BIN)/pt2jax build

lock:  ## re-resolve the stack into requirements/lock.txt (fresh venv)
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -e ".[dev,deploy]"
	.lockvenv/bin/pip freeze --exclude-editable | grep -v '^pt2jax' > requirements/lock.txt
	rm -rf .lockvenv

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
