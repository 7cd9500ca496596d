# Each target sets itself up first (scripts/setup.sh is idempotent and returns at once when
# nothing changed), so `make demo` and `make test` work on a fresh machine.
PY := .venv/bin/python

.PHONY: setup demo test lint bench precompile gpu-kit docs clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) examples/train_digits.py

test: setup
	$(PY) -m pytest -q

lint: setup
	.venv/bin/ruff check src tests benchmarks examples scripts
	.venv/bin/ruff format --check src tests benchmarks examples scripts

bench: setup
	@$(PY) -c "import torch" 2>/dev/null || .venv/bin/pip install -q torch==2.13.0 \
		|| echo "bench: torch not installable here; PyTorch column skipped"
	$(PY) benchmarks/mlp_step.py
	@if $(PY) -c "import torch" 2>/dev/null; then $(PY) benchmarks/conv_step.py; fi

precompile: setup
	$(PY) -m vkgrad.backends.vulkan.compile --all

# .gpu/: wheels, libraries and precompiled SPIR-V for a GPU machine without network (docs/gpu.md).
gpu-kit: setup
	@bash scripts/gpu_kit/build.sh

docs: setup
	$(PY) -m vkgrad.opdoc > docs/ops.md

clean:
	rm -rf .venv build .gpu *.egg-info src/*.egg-info .pytest_cache .ruff_cache
