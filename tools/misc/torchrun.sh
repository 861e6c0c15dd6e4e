#!/usr/bin/env bash
# torchrun one of the tools (used by tools/dist_train.sh and tools/dist_test.sh):
#   tools/misc/torchrun.sh NUM_PROCS SCRIPT [script args]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each. Uses .venv's python
# unless PYTHON is set.
set -euo pipefail
NPROCS=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY=${PYTHON:-python}
[[ -x "$ROOT/.venv/bin/python" && -z "${PYTHON:-}" ]] && PY="$ROOT/.venv/bin/python"

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"$PY" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$ROOT/$SCRIPT" "${@:3}"
