#!/usr/bin/env bash
# The prepared GPU check (tools/misc/gpu_check.py): at most 8 minutes on one GPU, a report in
# OUT_DIR (gpu_check.md, gpu_check.json), written after every section.
#   tools/misc/gpu_check.sh OUT_DIR [gpu_check.py options, e.g. --device cuda:1]
#   tools/misc/gpu_check.sh OUT_DIR --device cpu --quick     # smoke test without a GPU
# LIMIT (seconds, default 480) changes the time limit. Uses .venv's python unless PYTHON is set.
set -uo pipefail
if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUT_DIR [gpu_check.py options]" >&2
    exit 2
fi
OUT=$1
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY=${PYTHON:-python}
[[ -x "$ROOT/.venv/bin/python" && -z "${PYTHON:-}" ]] && PY="$ROOT/.venv/bin/python"
LIMIT=${LIMIT:-480}

mkdir -p "$OUT"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" timeout --kill-after=20 "$LIMIT" \
    "$PY" "$ROOT/tools/misc/gpu_check.py" --out "$OUT" "${@:2}"
rc=$?
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "gpu_check: stopped at the ${LIMIT} s limit; $OUT/gpu_check.md holds the sections done" >&2
fi
exit $rc
