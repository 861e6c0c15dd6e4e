#!/usr/bin/env bash
# Distributed testing with torchrun:  tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each.
set -euo pipefail
exec bash "$(dirname "$0")/misc/torchrun.sh" "$3" tools/test.py "$1" "$2" --launcher pytorch "${@:4}"
