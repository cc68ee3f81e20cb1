#!/usr/bin/env bash
# Train on GPUS processes of this node with torchrun (mmengine's pytorch launcher):
#   bash tools/dist_train.sh CONFIG GPUS [train.py args]
# Several nodes: run it on every node with the same NNODES, MASTER_ADDR (node 0's
# address) and PORT, and NODE_RANK = 0 .. NNODES-1.
# Without CUDA the processes run on CPUs with the gloo backend (maple_mm's MapleRunner).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "${@:3}"
