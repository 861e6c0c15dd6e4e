#!/usr/bin/env bash
# Distributed training with torchrun:  tools/dist_train.sh CONFIG NUM_PROCS [train.py args]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each.
# Without CUDA the processes use the gloo backend on CPU.
set -euo pipefail
exec bash "$(dirname "$0")/misc/torchrun.sh" "$2" tools/train.py "$1" --launcher pytorch "${@:3}"
