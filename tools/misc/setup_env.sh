#!/usr/bin/env bash
# Create or reuse .venv/ in the repository root and install everything mmsdt needs.
#
# Idempotent: a second run only checks a stamp and returns. Every package is installed at the
# exact version pinned in requirements/constraints.txt (one pip constraints file). mmcv 2.1.0
# (with ops) is built from its source archive once and the wheel is cached OUTSIDE the
# repository, keyed by the torch version and the device (cpu / cuXY), so a fresh clone reuses
# it in minutes.
#
# Environment knobs:
#   MMSDT_TORCH_SPEC   pip requirement(s) used when the venv has no torch yet (default: torch
#                      and torchvision at their pinned versions). A torch that is already
#                      installed in the venv is always kept; if its version differs from the
#                      pin, the torch family is left out of the constraints.
#   MMSDT_WHEEL_CACHE  where built mmcv wheels are kept (default: ~/.cache/mmsdt/wheels)
#   FORCE_CUDA=1       build mmcv with CUDA ops (needs nvcc matching torch's CUDA); the wheel
#                      is then cached under a cuXY key.
#   MAX_JOBS           parallel compile jobs for the mmcv build (default: number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
MMCV_VERSION="$(sed -n 's/^mmcv==//p' "$CONSTRAINTS")"
STAMP="$VENV/.mmsdt-env"
CACHE="${MMSDT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsdt/wheels}"

log() { printf '[setup_env] %s\n' "$*" >&2; }

# The stamp records what the environment was built from; any change re-runs the install.
want_stamp="$(cat "$ROOT/setup.cfg" "$ROOT/tools/misc/setup_env.sh" "$CONSTRAINTS" \
  | sha256sum | cut -d' ' -f1)"
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
  exit 0
fi

if [[ ! -x "$PY" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
# pip's local find-links mirrors print one "is ignored" warning per package; hide only those.
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
pinned() { sed -n "s/^$1==//p" "$CONSTRAINTS"; }
# The constraints in force: all pins, or all but the torch family when .venv keeps its own torch.
ACTIVE="$VENV/.mmsdt-constraints.txt"
cp "$CONSTRAINTS" "$ACTIVE"
pip_install() {
  quiet "$PY" -m pip install --disable-pip-version-check -q -c "$ACTIVE" "$@"
}

if ! "$PY" -c "import torch" 2>/dev/null; then
  if [[ -n "${MMSDT_TORCH_SPEC:-}" ]]; then
    grep -v -E '^(torch|torchvision|triton|nvidia-.*|cuda-.*)==' "$CONSTRAINTS" > "$ACTIVE"
  fi
  spec="${MMSDT_TORCH_SPEC:-torch==$(pinned torch) torchvision==$(pinned torchvision)}"
  log "installing $spec (several GB for a CUDA build; taken from a local wheel where one exists)"
  # shellcheck disable=SC2086
  pip_install $spec
else
  have="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
  log "keeping installed torch $have"
  if [[ "$have" != "$(pinned torch)" ]]; then
    log "torch $have is not the pinned $(pinned torch): the torch family is not constrained"
    grep -v -E '^(torch|torchvision|triton|nvidia-.*|cuda-.*)==' "$CONSTRAINTS" > "$ACTIVE"
  fi
fi
if ! "$PY" -c "import torchvision" 2>/dev/null; then
  log "ERROR: torchvision does not import next to the installed torch; install the matching"
  log "torchvision into $VENV (timm needs it) or remove $VENV and set MMSDT_TORCH_SPEC."
  exit 1
fi

# ---- mmcv 2.1.0 with ops, built once and cached -------------------------------------------
mmcv_ok() {
  "$PY" - <<PYEOF 2>/dev/null
import mmcv, mmcv.ops
assert mmcv.__version__ == '$MMCV_VERSION', mmcv.__version__
PYEOF
}
if ! mmcv_ok; then
  read -r torch_ver device < <("$PY" - <<'PYEOF'
import os, torch
cuda = os.environ.get('FORCE_CUDA') == '1' or torch.cuda.is_available()
dev = 'cu' + torch.version.cuda.replace('.', '') if (cuda and torch.version.cuda) else 'cpu'
print(torch.__version__.split('+')[0], dev)
PYEOF
)
  wheel_dir="$CACHE/mmcv-$MMCV_VERSION/torch-$torch_ver-$device"
  wheel="$(ls "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
  if [[ -z "$wheel" ]]; then
    log "building mmcv $MMCV_VERSION with ops for torch $torch_ver ($device); ~20 min on 2 cores, once"
    # mmcv's setup.py needs pkg_resources and an older setuptools (<70) to build: the
    # build-only pin is the "# mmcv-build:" line of the constraints file.
    build_pins="$(sed -n 's/^# mmcv-build: *//p' "$CONSTRAINTS")"
    [[ -n "$build_pins" ]] || { log "ERROR: no '# mmcv-build:' line in $CONSTRAINTS"; exit 1; }
    grep -v -E '^(setuptools)==' "$ACTIVE" > "$ACTIVE.build"
    # shellcheck disable=SC2086
    quiet "$PY" -m pip install --disable-pip-version-check -q -c "$ACTIVE.build" \
      $build_pins wheel ninja
    build="$(mktemp -d)"
    trap 'rm -rf "$build"' EXIT
    "$PY" -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
      --no-build-isolation "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
    src="$build/mmcv-$MMCV_VERSION"
    # torch >= 2.14 headers need C++20; mmcv 2.1.0 asks for C++17.
    if "$PY" -c "import sys, torch; v = tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(0 if v >= (2, 14) else 1)"; then
      grep -q -- "-std=c++17" "$src/setup.py" || { log "ERROR: no -std=c++17 in mmcv setup.py"; exit 1; }
      sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
      log "raised mmcv's C++ standard to c++20 for torch $torch_ver"
    fi
    mkdir -p "$wheel_dir"
    if [[ "$device" == cpu ]]; then export FORCE_CUDA=0; fi
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps \
      -w "$build/dist" "$src"
    mv "$build"/dist/mmcv-"$MMCV_VERSION"-*.whl "$wheel_dir"/
    wheel="$(ls "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)"
    log "cached $wheel"
  else
    log "reusing cached $wheel"
  fi
  # --no-deps: mmcv asks for opencv-python; we install the headless build below instead.
  pip_install --no-deps --force-reinstall "$wheel"
fi

# ---- OpenMMLab stack and the rest -------------------------------------------------------
pip_install addict packaging Pillow pyyaml yapf opencv-python-headless \
  mmengine mmdet mmsegmentation mmpretrain timm pycocotools matplotlib ftfy regex pytest pytest-xdist \
  onnx onnxscript onnxruntime aedat dv_processing
pip_install --no-deps --no-build-isolation -e "$ROOT"
# torch asks for setuptools>=77.0.3; mmengine (mmdet::/mmseg:: config bases) imports
# pkg_resources, which setuptools removed in 81; the pin sits in between.
pip_install setuptools wheel

"$PY" -c "import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models, timm, cv2, pycocotools, onnxruntime, onnxscript, aedat, dv_processing, xdist, mmsdt" \
  || { log "ERROR: the environment does not import; see above"; exit 1; }
echo "$want_stamp" > "$STAMP"
log "environment ready: $VENV"
