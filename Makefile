# fairnb: `make demo` runs the notebook series, `make test` the test suite.
# The first target used creates .venv (about 2-3 minutes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first so that pip takes the build on this machine's disk
# where there is one; override TORCH_SPEC for another build (CPU wheels, ...).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SERIES ?= core
PRESET ?= demo
export HF_HUB_OFFLINE ?= 1
export PYTHONUNBUFFERED := 1

.PHONY: setup demo tour workshop-data solutions compare multifair dualfairvl test lab bench lint clean-runs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC) || $(PY) -m pip install -q "torch>=2.2" torchvision
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup  ## run the core notebook series (01 -> 04) on the embedded default
	$(PY) -m fairnb.series $(SERIES) --preset $(PRESET)

tour: setup  ## 00: the whole story in about 10 min on 2 cores (data, CLIP vs FairCLIP over 3 seeds, dashboard, comparison)
	$(PY) -m fairnb.series tour --preset $(PRESET)

workshop-data: setup  ## a workshop's data and runs, in advance (about 10 min on 2 cores; docs/workshop.md)
	$(PY) -m fairnb.workshop $(WORKSHOP_OPTIONS)

solutions: setup  ## write the solution notebooks (notebooks/solutions/) from fairnb/exercises
	$(PY) -m fairnb.exercises

compare: setup  ## 06: a grid of 03 runs over seeds and its comparison (about 10-15 min on 2 cores)
	$(PY) -m fairnb.series compare --preset $(PRESET)

multifair: setup  ## 07: MultiFair beside plain fusion and each modality alone, SLO + note (about 5 min on 2 cores)
	$(PY) -m fairnb.series multimodal --preset $(PRESET)

dualfairvl: setup  ## 08: DualFairVL (reconstructed) on a frozen CLIP, in and out of distribution (about 2 min on 2 cores)
	$(PY) -m fairnb.series prompting --preset $(PRESET)

test: setup  ## the whole test suite (notebooks executed by papermill, smoke)
	$(PY) -m pytest

lab: setup  ## JupyterLab on localhost; notebooks default to PRESET (make lab PRESET=workshop)
	FAIRNB_PRESET=$(PRESET) $(VENV)/bin/jupyter lab --ip 127.0.0.1 --notebook-dir notebooks

bench: setup  ## speed and memory benchmarks; writes bench/RESULTS.md
	$(PY) -m bench

lint: setup
	$(VENV)/bin/ruff check fairnb tests bench

clean-runs:
	rm -rf runs
