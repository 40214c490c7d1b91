# Two commands: `make run` serves the API with everything it needs; `make test` installs and passes the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-runtime
FLASK  := $(BIN)/flask --app wsgi
IDP    := tests/idp
IDP_STAMP := $(IDP)/node_modules/.installed

export ENGAGEMENT_ENV ?= development

.PHONY: run test lint typecheck pytest clean

# uv (from PyPI, into the venv) installs exactly the versions pinned in uv.lock: `uv sync --locked`
# refuses a lock that no longer matches pyproject.toml (update it with `uv lock`, see the README);
# --inexact keeps uv itself in the venv. pip is the fallback when uv cannot be installed: it takes the
# newest versions pyproject.toml allows, not the lock, and so CI (CI=true) refuses it. Both compile the packages' bytecode once here
# (uv only when asked): otherwise, where the environment says PYTHONDONTWRITEBYTECODE, every new process
# (a worker, the extracts' .dta writer) compiles its imports.
INSTALL = if [ -x $(BIN)/uv ]; then $(BIN)/uv sync --quiet --locked --inexact --compile-bytecode --python $(BIN)/python $(1); \
	elif [ "$$CI" = true ]; then echo "uv is missing: CI installs only from uv.lock" >&2; exit 1; \
	else $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.$(2)'; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	-$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# `make run` needs only the runtime dependencies; `make test` adds the dev extras.
$(RUN_STAMP): pyproject.toml uv.lock | $(BIN)/python
	$(call INSTALL,,)
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml uv.lock | $(BIN)/python
	$(call INSTALL,--extra dev,[dev])
	touch $(STAMP) $(RUN_STAMP)

# The OpenID-certified provider the login tests run against (npm oidc-provider, exact lockfile).
# Installed once per lockfile change; without node the tests that need it are skipped.
$(IDP_STAMP): $(IDP)/package.json $(IDP)/package-lock.json
	@if ! command -v node >/dev/null 2>&1; then \
		echo "node not found: the certified-provider login tests will be skipped"; \
	elif ! command -v npm >/dev/null 2>&1; then \
		echo "node is installed but npm is not: cannot run npm ci --prefix $(IDP)" >&2; exit 1; \
	else \
		npm ci --prefix $(IDP) --no-audit --no-fund --loglevel=error && touch $@; \
	fi

# exec: the shell gives way to flask, which make signals directly (make passes on SIGTERM to its child).
run: $(RUN_STAMP)
	exec env ENGAGEMENT_DEV_IDPORTEN=$${ENGAGEMENT_DEV_IDPORTEN:-true} \
	ENGAGEMENT_ALLOW_SYNTHETIC_PID=$${ENGAGEMENT_ALLOW_SYNTHETIC_PID:-true} \
	ENGAGEMENT_LOG_JSON=$${ENGAGEMENT_LOG_JSON:-false} \
	$(FLASK) dev up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy engagement notifications

pytest: $(STAMP) $(IDP_STAMP)
	ENGAGEMENT_ENV=test $(BIN)/python -m pytest
	@if [ -n "$$ENGAGEMENT_TEST_POSTGRES_URL" ]; then \
		echo "== again on PostgreSQL =="; \
		ENGAGEMENT_ENV=test ENGAGEMENT_TEST_DATABASE_URL="$$ENGAGEMENT_TEST_POSTGRES_URL" $(BIN)/python -m pytest; \
	fi

test: lint typecheck pytest

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache $(IDP)/node_modules
