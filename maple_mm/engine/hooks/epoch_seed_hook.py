"""Seed every training epoch, so a resumed run repeats the uninterrupted one."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed Python, NumPy and torch from (run seed, epoch) before each epoch.

    mmengine seeds once per process and does not save random states in
    checkpoints, so after ``--resume`` the augmentations of the main process
    (``num_workers=0``) and the seeds handed to data workers would differ from
    those of a run that was never interrupted. Reseeding per epoch makes each
    epoch a function of the seed and the epoch alone.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = (runner.seed or 0) * 1000 + runner.epoch
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
