# Two commands from a fresh clone:
#   make app    set up, build the offline demo workspace and open finetui on it
#   make test   set up and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_WORKSPACE ?= $(CURDIR)/.finetui-demo

.PHONY: app test setup bench screenshots

setup: $(VENV)/.installed

# torch goes in first and alone: where a CPU wheel lies on disk, `torch==2.13.0`
# takes it; anything that pulled torch in first would fetch a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0" || $(PY) -m pip install -q "torch>=2.2,<3"
	$(PY) -m pip install -q -e ".[local,test]"
	touch $@

app: setup
	FINETUI_WORKSPACE=$(DEMO_WORKSPACE) $(VENV)/bin/finetui demo
	FINETUI_WORKSPACE=$(DEMO_WORKSPACE) $(VENV)/bin/finetui

test: setup
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	for b in bench/[!_]*.py; do $(PY) $$b || exit 1; done

screenshots: setup
	$(PY) -m finetui.tui.screenshots
