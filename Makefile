# Two commands a newcomer needs (see README):
#   make demo   create .venv, install themeflow, run the bundled demo study end to end
#   make test   create .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools' advice that a folder named like the package may shadow it is the point of an
# editable install here, so that one warning is silenced.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[test]'
	touch $@

install install-test: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/themeflow demo

# Debian's chromium for the report's browser tests (never a browser download of Playwright's own).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "warning: could not install chromium; browser tests will be skipped"

test: $(VENV)/.installed browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) outputs/2* demo/study/keys demo/study/cache demo/study/.prefect
