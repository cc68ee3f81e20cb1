"""ProGrad's update on 2 processes and under fp16 loss scaling.

- 2 gloo processes (torchrun, ``MMDistributedDataParallel.train_step``), each
  on its own batch: both land on the projected SGD step of the *averaged*
  gradients, not on the average of each process's projected gradient, nor on
  the steps of the cross-entropy alone or of the sum.
- fp16 mixed precision on the CPU: the rule gets the unscaled gradients, the
  step is the rule's, an overflow in either term skips the step and lowers the
  scale, and the teacher runs in fp32.
"""
import itertools
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from mmpretrain.registry import OPTIM_WRAPPERS
from mmpretrain.structures import DataSample

from tests.reference_trainers import PL
from ...conftest import REPO_ROOT
from . import test_prograd
from .prograd_ddp_step import rank_images
from .successor_parity import CLASS_NAMES, TOL, images
from .test_prograd import APART, LR, MOMENTUM, WD, cosine, loaded_model, reference_terms, sgd_step

converted = test_prograd.converted  # the fixtures: a reference checkpoint, converted,
cases = test_prograd.cases  # and labels whose gradients conflict

pytestmark = pytest.mark.usefixtures('one_thread')


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def projected(g_ce, g_kd):
    unit = g_kd / g_kd.norm()
    return g_ce - (g_ce * unit).sum() * unit if cosine(g_ce, g_kd) < 0 else g_ce


@pytest.fixture(scope='module')
def two_processes(converted, tmp_path_factory):
    """Each rank's batch, its transcribed gradients, and what each rank ended with."""
    model = loaded_model(converted)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    before = converted[1][PL + 'ctx'].float()
    # Rank 0's gradients conflict, rank 1's agree, their averages conflict: projecting
    # per process, or not at all, gives other steps than projecting the average.
    batches = list(itertools.product(range(len(CLASS_NAMES)), repeat=3))
    found = {}

    def terms(rank, labels):
        if (rank, labels) not in found:
            found[rank, labels] = reference_terms(clip, tokenizer, before, rank_images(rank),
                                                  torch.tensor(labels))
        return found[rank, labels]

    chosen = next(
        ([list(labels0), list(labels1)], [terms(0, labels0), terms(1, labels1)])
        for labels0 in batches if cosine(*terms(0, labels0)[2:]) < -0.2 for labels1 in batches
        if cosine(*terms(1, labels1)[2:]) > 0.2 and cosine(
            terms(0, labels0)[2] + terms(1, labels1)[2],
            terms(0, labels0)[3] + terms(1, labels1)[3]) < -0.2)
    labels, terms = chosen
    tmp = tmp_path_factory.mktemp('ddp')
    torch.save(converted[0], tmp / 'prompts.pth')
    env = {k: v for k, v in os.environ.items() if k not in ('MASTER_ADDR', 'MASTER_PORT')}
    env.update(HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1', PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        f'--master_port={free_port()}', '-m', 'tests.test_models.test_methods.prograd_ddp_step',
        str(tmp / 'prompts.pth'),
        str(tmp),
        json.dumps(labels)
    ],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [torch.load(tmp / f'rank{r}.pt', weights_only=True) for r in (0, 1)]
    return dict(before=before, terms=terms, ranks=ranks)


def test_two_processes_step_along_the_rule_of_the_averaged_gradients(two_processes):
    before, terms, ranks = (two_processes[k] for k in ('before', 'terms', 'ranks'))
    torch.testing.assert_close(ranks[0]['ctx'], ranks[1]['ctx'], rtol=0, atol=0)
    after = ranks[0]['ctx']
    g_ce = (terms[0][2] + terms[1][2]) / 2
    g_kd = (terms[0][3] + terms[1][3]) / 2
    torch.testing.assert_close(after, sgd_step(before, projected(g_ce, g_kd)), **TOL)
    others = {
        "each process's projection, averaged":
        (projected(terms[0][2], terms[0][3]) + projected(terms[1][2], terms[1][3])) / 2,
        'the averaged g_ce':
        g_ce,
        'the averaged g_ce + g_kd':
        g_ce + g_kd,
    }
    for name, grad in others.items():
        assert float((after - sgd_step(before, grad)).abs().max()) > APART, name


def test_each_process_logs_its_own_terms_and_keeps_no_gradient(two_processes):
    for rank, record in enumerate(two_processes['ranks']):
        xe, kd = (float(v) for v in two_processes['terms'][rank][:2])
        assert record['log'] == pytest.approx(dict(loss=xe + kd, loss_ce=xe, loss_kd=kd), 1e-5)
        assert record['grads_left'] == []  # zeroed after the step
        assert record['ddp_reduces'] == [False]  # the forward ran under no_sync


def fp16_wrapper(model, **loss_scale):
    return OPTIM_WRAPPERS.build(
        dict(
            type='MixedPrecisionOptimWrapper',
            precision='fp16',
            loss_scale=loss_scale,
            optimizer=torch.optim.SGD([model.prompt_learner.ctx],
                                      lr=LR,
                                      momentum=MOMENTUM,
                                      weight_decay=WD)))


def record_rule(model) -> dict:
    """Let the model's rule record the gradients it gets."""
    seen, rule = {}, model.combine_gradients

    def recording(grads, params):
        seen.update({name: [g.clone() for g in gs] for name, gs in grads.items()})
        return rule(grads, params)

    model.combine_gradients = recording
    return seen


@pytest.mark.parametrize('efficient', [True, False])
def test_fp16_scaled_gradients_reach_the_rule_unscaled(converted, cases, efficient):
    model = loaded_model(converted, efficient)
    imgs, labels = images(), cases['conflicting']
    model.train()
    ctx = model.prompt_learner.ctx
    losses = model.loss(imgs, samples(labels))  # the fp32 gradients
    expected = {
        name: torch.autograd.grad(losses[name], ctx, retain_graph=True)[0]
        for name in ('loss_ce', 'loss_kd')
    }
    before = ctx.detach().clone()
    seen = record_rule(model)
    wrapper = fp16_wrapper(model, init_scale=2.**10)
    model.train_step(dict(inputs=list(imgs), data_samples=samples(labels)), wrapper)
    assert wrapper.loss_scaler.get_scale() == 2.**10  # no overflow: the step was taken
    for name, grad in expected.items():  # up to fp16 rounding (a scaled one: x 1024)
        error = float((seen[name][0] - grad).norm() / grad.norm())
        assert error < 2e-2, (name, error)
    g_ce, g_kd = seen['loss_ce'][0], seen['loss_kd'][0]
    assert cosine(g_ce, g_kd) < 0  # the step is the projection's
    torch.testing.assert_close(ctx.detach(), sgd_step(before, projected(g_ce, g_kd)), **TOL)
    assert float((ctx.detach() - sgd_step(before, g_ce)).abs().max()) > APART


@pytest.mark.parametrize('overflowing', ['loss_ce', 'loss_kd', 'both'])
def test_fp16_overflow_in_either_term_skips_the_step_and_lowers_the_scale(converted, overflowing):
    model = loaded_model(converted)
    objective = model.objective

    def overflow(*args):
        losses = objective(*args)
        for name in ('loss_ce', 'loss_kd') if overflowing == 'both' else (overflowing, ):
            losses[name] = losses[name] * 1e30  # finite in fp32; its gradient overflows
        return losses

    model.objective = overflow
    wrapper = fp16_wrapper(model, init_scale=2.**10)
    before = model.prompt_learner.ctx.detach().clone()
    model.train()
    model.train_step(dict(inputs=list(images()), data_samples=samples([0, 3, 4])), wrapper)
    torch.testing.assert_close(model.prompt_learner.ctx.detach(), before, rtol=0, atol=0)
    assert wrapper.loss_scaler.get_scale() == 2.**9
    assert model.prompt_learner.ctx.grad is None


def test_the_teacher_runs_in_fp32_under_mixed_precision(converted):
    model = loaded_model(converted)
    imgs = images()
    model.eval()
    with torch.no_grad():
        fp32 = model.teacher_logits(imgs, model.prompted_features(imgs))
        with torch.autocast('cpu', dtype=torch.bfloat16):
            features = model.prompted_features(imgs)
            mixed = model.teacher_logits(imgs, features)
    assert features.logits.dtype == torch.bfloat16 and mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, fp32, rtol=1e-6, atol=1e-6)
