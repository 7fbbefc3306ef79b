# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv and install the package with its test extras from pip.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo_out
PYTEST_ARGS ?=

.PHONY: install browser test test-fast lint format demo clean

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found " + sys.version.split()[0] + "): set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[test]'
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/black --check speechbrain_v2s recipes tests benchmarks
	$(BIN)/ruff check speechbrain_v2s recipes tests benchmarks

format: $(STAMP)
	$(BIN)/black speechbrain_v2s recipes tests benchmarks
	$(BIN)/ruff check --fix speechbrain_v2s recipes tests benchmarks

# The web demo's browser test (tests/test_app_browser.py) drives Debian's
# chromium through chromium-driver: installed here when missing. Without root
# (or password-less sudo) or apt-get, a note is printed and that test skips.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		exit 0; \
	elif ! command -v apt-get >/dev/null; then \
		echo "note: no apt-get: install chromium and chromium-driver yourself, or the browser test is skipped"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
		$$SUDO apt-get install -y chromium chromium-driver \
		|| ($$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver) \
		|| echo "note: could not install chromium and chromium-driver (needs root): the browser test is skipped"; \
	fi

# Everything: style checks, unit tests, doctests of the package, slow training tests.
test: lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop while developing: no slow (training) tests.
test-fast: lint browser
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python recipes/Synthetic/demo.py --output $(DEMO_OUT)

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
