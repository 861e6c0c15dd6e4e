# mmsdt: two entry points on a fresh machine (each installs what it needs into .venv/).
#   make run   - the main job on the embedded default (no downloads)
#   make test  - the test suite
PY := .venv/bin/python

.PHONY: run test env bench

env:
	bash tools/misc/setup_env.sh

run: env
	$(PY) tools/misc/backbone_demo.py --arch 19m --work-dir work_dirs/backbone_demo

test: env
	$(PY) -m pytest

bench: env
	$(PY) tools/analysis_tools/benchmark_backbone.py --out work_dirs/benchmark_backbone.json
