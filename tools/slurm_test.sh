#!/usr/bin/env bash
# Test a checkpoint on a Slurm cluster, one task per GPU:
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
# GPUS, GPUS_PER_NODE, CPUS_PER_TASK and SRUN_ARGS as for slurm_train.sh.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
TOOLS=$(cd "$(dirname "$0")" && pwd)
# PYTHON: the interpreter (default: the checkout's .venv, else python on PATH).
. "$TOOLS/_python.sh"

# SRUN_ARGS is split into words on purpose.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher=slurm "${@:5}"
