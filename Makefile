# Gatehouse: `make run` to try it, `make test` to prove it. Only Python 3.11+ is needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# Gatehouse runs in production mode unless told otherwise (config/settings.py). `make run`
# asks for the embedded mode; so do the tests and the type checker when no database is given.
EMBEDDED := GATEHOUSE_EMBEDDED=1
LOCAL  := $(if $(DATABASE_URL),,$(EMBEDDED))

IDP_DIR := tests/sso/idp
AXE_DIR := tests/e2e/axe
RP_DIR  := tests/provider/rp
RS_DIR  := tests/provider/rs
HOOK_DIR := tests/events/receiver
NPM_DIRS := $(IDP_DIR) $(AXE_DIR) $(RP_DIR) $(RS_DIR) $(HOOK_DIR)

.PHONY: install npm-packages idps run test lint bench bench-saml bench-enumeration bench-oauth bench-scim bench-events bench-import bench-admin worker beat clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## npm packages the tests drive, each pinned by its lockfile: the SSO tests' real IdPs (samlify
## and oidc-provider), axe-core for the accessibility checks and the webhook receiver's verifier
## (standardwebhooks). Without node and npm nothing
## happens here, and those tests skip (CI requires them instead).
npm-packages:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	  for dir in $(NPM_DIRS); do \
	    if [ ! -f $$dir/node_modules/.installed ] || \
	       [ $$dir/package-lock.json -nt $$dir/node_modules/.installed ]; then \
	      (cd $$dir && npm ci --silent --no-audit --no-fund) && \
	      touch $$dir/node_modules/.installed || exit 1; \
	    fi; \
	  done; \
	fi

idps: npm-packages

## Serve Gatehouse on http://localhost:8000 with demo users (SQLite, eager tasks, mail to var/mail/).
## The server is started as localhost (not 127.0.0.1), so the address Django prints is the one
## to open: passkeys are bound to a host name, never an IP address.
run: install
	$(EMBEDDED) $(BIN)/python manage.py migrate --noinput
	$(EMBEDDED) $(BIN)/python manage.py seed_demo
	$(EMBEDDED) $(BIN)/python manage.py runserver localhost:8000

## The whole suite. Uses PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, else SQLite.
## One pytest-xdist worker per core unless TEST_WORKERS says otherwise (0: one process).
TEST_WORKERS ?= auto
test: install npm-packages
	$(LOCAL) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(LOCAL) $(BIN)/mypy accounts audit config organizations sso consent provider events social tests

## Password-login throughput against the raw Argon2 rate (needs PostgreSQL, Redis and wrk).
bench-import: install
	$(BIN)/python bench/import_rate.py

bench: install
	$(BIN)/python bench/login.py

## A full SAML sign-in against python3-saml's own processing of the same responses (needs
## PostgreSQL and Redis).
bench-saml: install
	$(BIN)/python bench/saml_acs.py

## Whether response times tell a taken address from a free one (sign-up, login, password reset,
## login code; needs PostgreSQL and Redis). Exits non-zero if any endpoint differs at p < 0.01.
bench-enumeration: install
	$(BIN)/python bench/enumeration.py

## The provider's token, refresh and introspection rates against /healthz, and local JWT
## verifications (needs PostgreSQL, Redis and wrk).
bench-oauth: install
	$(BIN)/python bench/oauth.py

## SCIM with 1,000,000 people against 10,000 (lookups, pages, deactivations) and creations
## against /healthz (needs PostgreSQL, Redis and wrk; the first run loads the two datasets).
bench-scim: install
	$(BIN)/python bench/scim.py

## Logins with events on against off, webhook deliveries per second and the delay from commit
## to delivery (needs PostgreSQL, Redis, wrk and node).
bench-events: install npm-packages
	$(BIN)/python bench/events.py

## The admin's pages (users, search, verified filter, a person, audit list, search and deep page)
## and the API's members page 900, with a million people and 10 million audit events against
## 10,000 (needs PostgreSQL and Redis; the first run loads the datasets; BENCH_ADMIN_USERS and
## BENCH_ADMIN_EVENTS set the large one's size).
bench-admin: install
	$(BIN)/python bench/admin.py

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles test-output .pytest_cache .ruff_cache $(IDP_DIR)/node_modules $(AXE_DIR)/node_modules
