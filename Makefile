# labbook — the two commands: `make run` and `make test`. Both do all set-up on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
TRANSLATIONS := labbook/translations
PO_FILES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test install translations extract-messages lint migration-check clean browser \
	fonts screenshots mutation bench-tools

# $(call apt-get-unless,<shell test: true when nothing is missing>,<Debian packages>,<what>):
# installs the packages with apt-get (refreshing its lists only when the first try fails),
# unless the test says they are there.
define apt-get-unless
	@if $(1); then \
		echo "$(3) installed"; \
	else \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y $(2) \
			|| { $$SUDO apt-get update && $$SUDO apt-get install -y $(2); }; \
	fi
endef

## Create the virtualenv and install labbook with its test and PostgreSQL extras, and the font
## of its PDFs.
install: fonts $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@

## Compile the zh_CN and en message catalogues.
translations: install $(MO_FILES)

%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

## Serve the app on http://$(HOST):$(PORT) with the catalogue and demo data loaded.
run: translations
	LABBOOK_ENV=development $(FLASK) labbook init
	LABBOOK_ENV=development $(FLASK) labbook demo
	@echo "labbook is starting on http://$(HOST):$(PORT)"
	export LABBOOK_ENV=development FLASK_RUN_HOST=$(HOST) FLASK_RUN_PORT=$(PORT); \
	$(FLASK) labbook scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler' EXIT INT TERM; \
	$(FLASK) run

## Run the whole test suite (on PostgreSQL too when LABBOOK_TEST_DATABASE_URL is set), one
## worker per core; TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: translations
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## The CJK font embedded in every PDF labbook prints (Debian's fonts-wqy-zenhei, read by
## labbook/documents/pdf.py); apt-get runs only when it is missing. With LABBOOK_PDF_FONT naming
## another TrueType font, nothing is installed.
fonts:
	$(call apt-get-unless,[ -n "$$LABBOOK_PDF_FONT" ] || dpkg -s fonts-wqy-zenhei >/dev/null 2>&1,fonts-wqy-zenhei,The PDF font is)

## Debian's Chromium and CJK fonts for the browser tests (tests/e2e); apt-get runs only when
## something is missing. Without /usr/bin/chromium `make test` skips those tests and says why.
browser:
	$(call apt-get-unless,[ -x /usr/bin/chromium ] && dpkg -s fonts-noto-cjk >/dev/null 2>&1,chromium fonts-noto-cjk,Chromium and CJK fonts are)

## The programs some benchmarks drive (valgrind for benchmarks/instructions.py, wrk for
## benchmarks/http_writes.py); apt-get runs only when one is missing. Without valgrind
## `make test` skips instructions.py's smoke test and says why; `make bench-smoke` fails.
bench-tools:
	$(call apt-get-unless,command -v valgrind >/dev/null && command -v callgrind_control >/dev/null && command -v wrk >/dev/null,valgrind wrk,valgrind and wrk are)

## Retake the README's screenshots (docs/screenshots/) in Chromium from the demo data.
screenshots: translations browser
	LABBOOK_SCREENSHOTS=1 $(BIN)/pytest -m screenshots tests/e2e/test_screenshots.py

## Mutation testing (mutmut) of the code where a bug costs money or leaks data
## (tests/mutation/targets.txt): prints the surviving mutants and each module's kill rate.
## MODULES="labbook/billing/pricing.py labbook/testing/services.py:quote" mutates just those;
## TESTS="tests/billing" narrows the tests mutmut first maps to functions (default: setup.cfg).
MUTATION_JOBS ?= 2
mutation: translations
	nice -n 10 $(BIN)/python tests/mutation/run.py --jobs $(MUTATION_JOBS) \
		--tests '$(TESTS)' $(MODULES)

## ruff, and import-linter's check of the import rules in .importlinter (docs/architecture.md).
lint: install
	$(BIN)/ruff check labbook tests benchmarks migrations wsgi.py
	$(BIN)/lint-imports --no-cache --no-logo .importlinter

## Run every benchmark in its smoke mode (tiny data, a few iterations; seconds each), so that
## none stops working unnoticed. Each prints its JSON; a failing one shows its error output.
BENCHMARKS := $(filter-out benchmarks/__init__.py benchmarks/cli.py,$(wildcard benchmarks/*.py))
.PHONY: bench-smoke
bench-smoke: translations
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; for script in $(BENCHMARKS); do \
		echo "$$script --smoke"; \
		$(BIN)/python $$script --smoke 2>$$log || { cat $$log; exit 1; }; \
	done

## Fail when the models and the migrations disagree.
migration-check: install
	rm -f instance-migration-check.sqlite
	LABBOOK_ENV=development LABBOOK_DATABASE_URL=sqlite:///$(CURDIR)/instance-migration-check.sqlite $(FLASK) db upgrade
	LABBOOK_ENV=development LABBOOK_DATABASE_URL=sqlite:///$(CURDIR)/instance-migration-check.sqlite $(FLASK) db check
	rm -f instance-migration-check.sqlite

## Refresh the message catalogues from the source (for developers).
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(MO_FILES) mutants
