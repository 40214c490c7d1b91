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

# uv (from PyPI, into the venv) installs several times faster than pip; pip is the fallback. Both
# compile the packages' bytecode once here (uv only when asked): otherwise, where the environment says
# PYTHONDONTWRITEBYTECODE, every new process (a worker, the extracts' .dta writer) compiles its imports.
INSTALL = if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $(1); \
	else $(BIN)/python -m pip install --quiet --disable-pip-version-check $(1); fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	-$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# `make run` needs only the runtime dependencies; `make test` adds the dev extras.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(call INSTALL,-e .)
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(call INSTALL,-e '.[dev]')
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

run: $(RUN_STAMP)
	ENGAGEMENT_DEV_IDPORTEN=$${ENGAGEMENT_DEV_IDPORTEN:-true} \
	ENGAGEMENT_ALLOW_SYNTHETIC_PID=$${ENGAGEMENT_ALLOW_SYNTHETIC_PID:-true} \
	ENGAGEMENT_LOG_JSON=$${ENGAGEMENT_LOG_JSON:-false} \
	$(FLASK) dev up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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
