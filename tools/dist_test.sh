#!/usr/bin/env bash
# Test a checkpoint on GPUS processes of this node with torchrun:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Several nodes: as for dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT).
# Every test image is counted once, whatever the number of processes.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS=$(cd "$(dirname "$0")" && pwd)
# PYTHON: the interpreter (default: the checkout's .venv, else python on PATH).
. "$TOOLS/_python.sh"

# exec: the launcher is torchrun itself, so stopping it (kill, Ctrl-C) stops every worker;
# _torchrun.py ends that with one line and exit code 143 (SIGTERM) or 130 (Ctrl-C).
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" exec \
"$PYTHON" "$TOOLS/_torchrun.py" \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
