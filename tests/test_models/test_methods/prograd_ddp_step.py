"""One ProGrad step on each of the processes torchrun starts (gloo, CPU), for test_prograd_update.

    python -m torch.distributed.run --nproc_per_node 2 \\
        -m tests.test_models.test_methods.prograd_ddp_step PROMPTS OUT LABELS_JSON

Every rank builds the tiny ProGrad of test_prograd.py with the prompts PROMPTS,
wraps it as MapleRunner does on CPUs (``MMDistributedDataParallel``,
``device_ids=None``) and takes one ``train_step`` through
``MixedPrecisionOptimWrapper`` on its own batch (:func:`rank_batch`: its images,
the labels LABELS_JSON[rank]). Each rank writes OUT/rank<R>.pt: its prompts
after the step, its logged losses, whether any parameter kept a gradient, and
whether DDP's own reduction was on during the forward.
"""
import json
import os
import sys

import torch


def rank_images(rank: int) -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(100 + rank))


def main(prompts: str, out: str, labels: str) -> None:
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    from mmpretrain.registry import OPTIM_WRAPPERS
    from mmpretrain.structures import DataSample

    from tests.test_models.test_methods.test_prograd import LR, MOMENTUM, PETS, WD
    from .successor_parity import build

    dist.init_process_group('gloo')
    rank = dist.get_rank()
    model = build('ProGrad', prompt_learner=dict(template=PETS))
    model.load_state_dict(torch.load(prompts, weights_only=True))
    model.train()
    ddp = MMDistributedDataParallel(module=model, device_ids=None, broadcast_buffers=False)
    synced = []  # DDP's own gradient reduction during the forward: off (no_sync)
    model.register_forward_pre_hook(lambda *args: synced.append(ddp.require_backward_grad_sync))
    wrapper = OPTIM_WRAPPERS.build(
        dict(
            type='MixedPrecisionOptimWrapper',
            precision='fp32',
            optimizer=torch.optim.SGD([model.prompt_learner.ctx],
                                      lr=LR,
                                      momentum=MOMENTUM,
                                      weight_decay=WD)))
    data = dict(
        inputs=list(rank_images(rank)),
        data_samples=[DataSample().set_gt_label(y) for y in json.loads(labels)[rank]])
    log = ddp.train_step(data, wrapper)
    torch.save(
        dict(
            ctx=model.prompt_learner.ctx.detach().clone(),
            log={
                k: float(v)
                for k, v in log.items()
            },
            grads_left=[n for n, p in model.named_parameters() if p.grad is not None],
            ddp_reduces=synced), os.path.join(out, f'rank{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(*sys.argv[1:])
