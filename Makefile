# mmsdt: two entry points on a fresh machine (each installs what it needs into .venv/).
#   make run             - the main job on the embedded default (toy detection; no downloads)
#   make run TASK=seg    - the same for segmentation (TASK=cls: classification,
#                          TASK=gac: projects/gac, Gated Attention Coding)
#   make run TASK=dvs    - event-camera classification: motion classes through a DVS
#                          emulator, T = 4 frames
#   make run TASK=sma    - spike-masked autoencoder pre-training on the toy cls images
#                          without labels, fine-tuned on 10 % of the labels vs from scratch
#   make run TASK=event-det - event-camera detection: moving cars / pedestrians through a
#                          DVS emulator (Gen1 layout), spiking RetinaNet, Prophesee-protocol mAP
#   make test            - the test suite
PY := .venv/bin/python
TASK ?= det

.PHONY: run test env bench backbone-demo

env:
	bash tools/misc/setup_env.sh

run: env
	$(PY) tools/run_toy.py --task $(TASK)

test: env
	$(PY) -m pytest -n 2 --dist loadfile

backbone-demo: env
	$(PY) tools/demo/backbone_demo.py --arch 19m --work-dir work_dirs/backbone_demo

bench: env
	$(PY) tools/analysis_tools/benchmark_backbone.py --out work_dirs/benchmark_backbone.json
