"""torchrun for the launch scripts, ending with one line when it is stopped.

``dist_train.sh`` and ``dist_test.sh`` exec this (the launcher stays one process,
torchrun itself). Stopped by SIGTERM or SIGINT (``kill``, Ctrl-C), torchrun
stops every worker and then raises torch's ``SignalException``: a 20-line
traceback and exit 1. Here it ends with one ``interrupted:`` line saying what
was kept, and the exit code of the signal (143 for SIGTERM, 130 for SIGINT), as
a run in one process does. The workers stay silent (MAPLE_QUIET_INTERRUPT): the
launcher speaks for them.

    python tools/_torchrun.py [torchrun options] tools/train.py CONFIG [args]
"""
import os
import signal
import sys
from typing import List, Optional

from _cli import QUIET_INTERRUPT  # also puts the checkout on sys.path
from torch.distributed.elastic.multiprocessing import SignalException
from torch.distributed.run import main as torchrun


def stopped_note(argv: List[str]) -> str:
    """What the stopped run kept, from the tool and arguments torchrun was given."""
    tools = [i for i, arg in enumerate(argv) if arg.endswith('.py')]
    if not tools:
        return ''
    tool, tool_argv = os.path.basename(argv[tools[0]]), argv[tools[0] + 1:]
    if tool == 'test.py':
        return ('The test did not finish: sets tested before keep their results, marked '
                'incomplete (test_metrics.json); run the same command to test again.')
    if tool != 'train.py':
        return ''
    try:
        import train
        from _cli import load_config
        return train.interrupted_note(load_config(train.parse_args(tool_argv)).work_dir)
    except (Exception, SystemExit):  # noqa: BLE001  the config is the workers' to report on
        return 'Run the same command with --resume to continue from the last complete checkpoint.'


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    quiet = os.environ.get(QUIET_INTERRUPT)  # a sweep says itself what was kept
    os.environ[QUIET_INTERRUPT] = '1'  # the workers inherit it
    try:
        torchrun(argv)
    except SignalException as err:
        if quiet:
            sys.exit(128 + int(err.sigval))
        name = signal.Signals(err.sigval).name
        note = stopped_note(argv)
        note = note[:1].upper() + note[1:]
        print(
            f'interrupted: stopped by {name}; every process of the run was stopped.'
            f'{" " + note if note else ""}',
            file=sys.stderr,
            flush=True)
        sys.exit(128 + int(err.sigval))


if __name__ == '__main__':
    main()
