"""The process group of a distributed run on CPUs (gloo), started without selecting a GPU.

mmengine's ``init_dist`` selects a CUDA device for every process
(``torch.cuda.set_device(local_rank)``), which fails on a machine without
one. A run without an accelerator starts its gloo group here instead, from the
same launcher environment (torchrun's ``RANK`` / ``WORLD_SIZE`` / ``MASTER_*``,
Slurm's ``SLURM_*``, Open MPI's ``OMPI_COMM_WORLD_*``), and mmengine, finding
the group started, only reads rank and world size from it.
"""
import datetime
import os
import subprocess
from typing import Dict, Optional

import torch.distributed as dist

#: torch.distributed's default port, as mmengine uses it.
DEFAULT_PORT = '29500'


def slurm_environment(port: Optional[int] = None) -> Dict[str, str]:
    """The torch.distributed variables of this Slurm task (what mmengine derives too)."""
    env = os.environ
    node_list = env['SLURM_NODELIST']
    local_rank = env.get('SLURM_LOCALID') or str(int(env['SLURM_PROCID']))
    values = dict(WORLD_SIZE=env['SLURM_NTASKS'], RANK=env['SLURM_PROCID'], LOCAL_RANK=local_rank)
    values['MASTER_PORT'] = str(port) if port is not None else env.get('MASTER_PORT', DEFAULT_PORT)
    if 'MASTER_ADDR' not in env:
        hosts = subprocess.run(['scontrol', 'show', 'hostname', node_list],
                               capture_output=True,
                               text=True,
                               check=True).stdout.split()
        values['MASTER_ADDR'] = hosts[0]
    return values


def mpi_environment() -> Dict[str, str]:
    """The torch.distributed variables of this Open MPI process."""
    env = os.environ
    if 'MASTER_ADDR' not in env:
        raise KeyError('The environment variable MASTER_ADDR is not set')
    return dict(
        WORLD_SIZE=env['OMPI_COMM_WORLD_SIZE'],
        RANK=env['OMPI_COMM_WORLD_RANK'],
        MASTER_PORT=env.get('MASTER_PORT', DEFAULT_PORT))


def init_cpu_process_group(launcher: str, dist_cfg: Optional[dict] = None) -> None:
    """Start the gloo process group of ``launcher`` ('pytorch', 'slurm' or 'mpi').

    ``dist_cfg`` is the config's ``env_cfg.dist_cfg``: its ``timeout`` (seconds)
    and other ``init_process_group`` arguments apply; ``backend`` is gloo
    whatever it says, ``port`` is Slurm's master port.
    """
    kwargs = dict(dist_cfg or {})
    kwargs.pop('backend', None)
    kwargs.pop('init_backend', None)
    port = kwargs.pop('port', None)
    if kwargs.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    if launcher == 'slurm':
        os.environ.update(slurm_environment(port))
    elif launcher == 'mpi':
        os.environ.update(mpi_environment())
    elif launcher != 'pytorch':
        raise ValueError(f'Invalid launcher type: {launcher}')
    dist.init_process_group(backend='gloo', init_method='env://', **kwargs)
