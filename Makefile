# The two commands of the README. Each sets itself up: it creates .venv and
# installs the pinned environment when missing, and prepares the demo data.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DATA := data/fashion_mnist/split_zhou_FashionMNIST.json
DEMO_CONFIG := configs/maple/demo_base2novel_fashion_mnist.py
DEMO_WORK_DIR ?= work_dirs/demo
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

.PHONY: demo smoke data test lint format test-forks install clean-venv

install: $(STAMP)

$(STAMP): requirements-lock.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-lock.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Fashion-MNIST ships as a Debian package, installed here when make runs as root with apt-get
# (it says so first); elsewhere the converter downloads the files.
$(FASHION_MNIST):
	-@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "make: installing the Debian package dataset-fashion-mnist (apt-get, as root)"; \
	  (apt-get install -y -qq dataset-fashion-mnist || \
	   (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null 2>&1; \
	fi

$(DEMO_DATA): $(STAMP) $(FASHION_MNIST)
	$(PY) tools/dataset_converters/fashion_mnist_to_coop.py --out data/fashion_mnist

# The demo's data only: Fashion-MNIST in CoOp format under data/fashion_mnist.
data: $(DEMO_DATA)

# Under a minute on a CPU: one method (METHOD=maple, coop, ...) trained and tested on a tiny
# random CLIP and a few generated images, to check an installation (tools/smoke.py).
METHOD ?= maple
smoke: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) tools/smoke.py $(METHOD)

# Trains on the 5 base classes, then prints Base / Novel / HM. Re-running
# resumes the run in $(DEMO_WORK_DIR) (and just re-tests a finished one).
demo: $(STAMP) $(DEMO_DATA)
	HF_HUB_OFFLINE=1 $(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) --resume

# Lint first (mmpretrain's flake8 / isort / yapf set; settings in setup.cfg), then the tests in
# TEST_WORKERS pytest processes (pytest-xdist; each test file in one of them, so its module
# fixtures are built once; TEST_WORKERS=0: all in one process). The files marked long_running
# start first, the longest first (tests/conftest.py; xdist would sort them by number of tests).
# The 20 slowest tests and the seconds per test file (tests/conftest.py) are printed at the end.
TEST_WORKERS ?= 2
test: lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests -q --durations=20 -n $(TEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder

LINTED := maple_mm tools tests configs setup.py

# The project's own rules follow (tests/lint_repo.py): config layout, generated files,
# import cycles, docstring links.
lint: $(STAMP)
	$(PY) -m flake8 $(LINTED)
	$(PY) -m isort --check-only --diff $(LINTED)
	@# The project's rules run beside yapf (each is a third of the lint's time); both must pass.
	HF_HUB_OFFLINE=1 $(PY) -m tests.lint_repo & rules=$$!; \
	$(PY) -m yapf --diff --recursive --parallel $(LINTED); style=$$?; \
	wait $$rules && exit $$style

# Rewrites the files as lint wants them (imports sorted, yapf's layout, model-index.yml
# generated from the metafiles).
format: $(STAMP)
	$(PY) -m isort $(LINTED)
	$(PY) -m yapf --in-place --recursive --parallel $(LINTED)
	HF_HUB_OFFLINE=1 $(PY) -m tests.lint_repo --fix

# The same suite on the maintained forks (onedl-mmengine, onedl-mmpretrain, onedl-mmcv) in
# their own venv: the lock file without the three originals, plus requirements-forks.txt.
# maple_mm goes in with --no-deps (the forks' distribution names differ). Not run by CI.
FORKS_VENV ?= .venv-forks
FORKS_PY := $(FORKS_VENV)/bin/python
FORKS_STAMP := $(FORKS_VENV)/.installed

$(FORKS_STAMP): requirements-lock.txt requirements-forks.txt setup.py
	test -x $(FORKS_PY) || $(PYTHON) -m venv $(FORKS_VENV)
	$(FORKS_PY) -m pip install --quiet --upgrade pip
	grep -v -E '^(mmengine|mmpretrain|mmcv-lite)==' requirements-lock.txt \
	  > $(FORKS_VENV)/requirements-lock-without-mm.txt
	$(FORKS_PY) -m pip install --quiet -r $(FORKS_VENV)/requirements-lock-without-mm.txt \
	  -r requirements-forks.txt
	$(FORKS_PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(FORKS_STAMP)

test-forks: $(FORKS_STAMP)
	HF_HUB_OFFLINE=1 $(FORKS_PY) -m pytest tests -q

clean-venv:
	rm -rf $(VENV)
