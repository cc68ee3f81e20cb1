"""ProGrad against the transcription of its reference trainer (tests/reference_prograd.py).

- The context starts as the reference's (zeros first, the word-count quirk); a
  reference checkpoint converted by the converter tool gives the reference's
  logits, both loss terms and both gradients, on both computation paths.
- One optimizer step through mmengine's ``train_step`` lands on the projected SGD
  step computed by hand and by the transcription of the reference's update, on
  conflicting and on aligned gradients, and not where the sum or the
  cross-entropy alone would take it.
- On 2 gloo processes (forked from the test's, ``MMDistributedDataParallel.train_step``), each
  on its own batch, both land on the projected step of the *averaged* gradients,
  not on the average of each process's projected gradient.
- fp16 mixed precision on the CPU: the rule gets the unscaled gradients, an
  overflow in either term skips the step and lowers the scale; the teacher runs
  in fp32.
- A shipped config through tools/train.py and tools/test.py logs ``loss_ce`` and
  ``loss_kd`` under their own keys.
"""
import itertools
import json
import multiprocessing
import os
import socket

import pytest
import torch
from mmpretrain.registry import MODELS, OPTIM_WRAPPERS
from mmpretrain.structures import DataSample

from maple_mm.engine import load_run_config
from maple_mm.errors import PromptConfigError
from maple_mm.models import TINY_CLIP_CFG
from maple_mm.models.methods.prograd import prompt_aligned_gradient
from tests.conftest import load_tool, run_tool_here
from tests.method_rows import ClipRecipes, MethodRows, Recipe
from tests.miniature_datasets import write_miniature
from tests.reference_prograd import (PROGRAD_TEMPLATES, prograd_backward_and_update,
                                     prograd_initial_context, prograd_loss,
                                     prograd_reference_state_dict, prograd_student_logits,
                                     prograd_teacher_logits)
from tests.reference_trainers import PL, _prompt_tokens, dassl_saved_state_dict
from tests.test_configs.tiny_runs import NUM_CLASSES, SIZE, load, tiny
from tests.test_configs.zoo import CONFIGS, DATASETS
from tests.test_engine.test_run_record import record_of
from tests.test_models.test_methods.successor_parity import CLASS_NAMES, TOL, build, images
from tests.test_tools.test_train_test_e2e import read_test_metrics, run_tool

pytestmark = [pytest.mark.usefixtures('one_thread'), pytest.mark.long_running(seconds=35)]
PETS = PROGRAD_TEMPLATES['oxford_pets']  # 8 words, 9 tokens: one stays fixed text
#: SGD of the recipes (momentum 0.9, weight decay 5e-4); a large lr so that the rules' steps
#: differ far beyond the tolerance.
LR, MOMENTUM, WD = 0.1, 0.9, 5e-4
#: Rules whose steps must be told apart from ProGrad's: farther than this from it.
APART = 1e-3

# -- the method's rows (tests/method_rows.py) -----------------------------------------
PROGRAD = 'BeierZhu/Prompt-align'
PG_CFG = f'{PROGRAD} ProGrad.public/configs/trainers/ProGrad'
#: CTX_INIT True, N_CTX 16, CSC False, CTP end (scripts); a dataset's CUSTOM_TEMPLATES entry of
#: trainers/prograd.py where it is not "a photo of a {}." (PROGRAD_TEMPLATES).
LEARNER = dict(
    type='ProGradPromptLearner',
    n_ctx=16,
    template='a photo of a {}.',
    ctx_init=True,
    class_token_position='end')
#: ProGrad's few-shot runs by K (ProGrad.public/README.md lines 54-58: rn50_ep50 for 1 shot,
#: rn50_ep100 for 2 and 4, rn50 for 8 and 16) and its lambda (line 52: 0.8 for 8 and 16
#: shots on Flowers102, DTD and EuroSAT; LAMBDA=1.0 in scripts/prograd.sh otherwise).
EPOCHS_BY_SHOTS = {1: 50, 2: 100, 4: 100, 8: 200, 16: 200}
LAMBDA_08 = {'oxford_flowers', 'dtd', 'eurosat'}
LAMBDA_BY_SHOTS = {k: 0.8 if k >= 8 else 1.0 for k in EPOCHS_BY_SHOTS}
# The reference ships RN50 recipes only: their values on ViT-B/16. PREC is not set in its
# yamls: train.py's default, fp16.
BASE2NOVEL = Recipe(
    0.002,
    32,
    100,
    LEARNER,
    'fp16',
    f'{PG_CFG}/rn50_ep100.yaml',
    f'{PROGRAD} ProGrad.public/scripts/base2new_train_prograd.sh (SHOTS=4, '
    'LAMBDA=1.0)',
    shots=4)
FEW_SHOT = Recipe(
    0.002,
    32,
    200,
    LEARNER,
    'fp16',
    f'{PG_CFG}/rn50.yaml',
    f'{PROGRAD} ProGrad.public/README.md lines 57-58 (8 and 16 shots: rn50)',
    values_by_shots=dict(max_epochs=EPOCHS_BY_SHOTS))

#: The ImageNet models of its few-shot runs, tested on the variants (eval.sh).
CROSS_DATASET = Recipe(
    0.002,
    32,
    50,
    LEARNER,
    'fp16',
    f'{PG_CFG}/rn50_ep50.yaml',
    f'{PROGRAD} ProGrad.public/scripts/eval.sh (SHOTS=4, --load-epoch 50)',
    shots=4)


def _dataset_rows() -> dict:
    """ProGrad's per-dataset rows: its templates, ImageNet's 50 epochs, lambda by shots."""
    rows = {}
    for dataset in DATASETS:
        learner = dict(LEARNER, template=PROGRAD_TEMPLATES.get(dataset, LEARNER['template']))
        base2novel, few_shot = BASE2NOVEL._replace(learner=learner), \
            FEW_SHOT._replace(learner=learner)
        if dataset == 'imagenet':  # rn50_ep50.yaml (README line 132; eval.sh --load-epoch 50)
            base2novel = base2novel._replace(epochs=50, source=f'{PG_CFG}/rn50_ep50.yaml')
            few_shot = few_shot._replace(
                epochs=50,
                source=f'{PG_CFG}/rn50_ep50.yaml',
                values_by_shots=dict(max_epochs={k: 50
                                                 for k in EPOCHS_BY_SHOTS}))
        if dataset in LAMBDA_08:
            few_shot = few_shot._replace(
                model=dict(lambda_=LAMBDA_BY_SHOTS[16]),
                values_by_shots={
                    **few_shot.values_by_shots, 'model.lambda_': LAMBDA_BY_SHOTS
                })
        if base2novel != BASE2NOVEL:
            rows['base2novel', dataset] = base2novel
        if few_shot != FEW_SHOT:
            rows['few_shot', dataset] = few_shot
    return rows


EXPECTED = [
    MethodRows(
        folder='prograd',
        recipes={
            'base2novel': BASE2NOVEL,
            'few_shot': FEW_SHOT,
            'cross_dataset': CROSS_DATASET,
            **_dataset_rows(),
        },
        # The reference's own CLIP: the same recipes on RN50 (configs <protocol>_rn50_*.py).
        other_clips={
            'rn50':
            ClipRecipes(
                'RN50', {
                    'base2novel': BASE2NOVEL,
                    'few_shot': FEW_SHOT,
                    'cross_dataset': CROSS_DATASET,
                    'domain_generalization': CROSS_DATASET,
                    **_dataset_rows(),
                })
        },
        # LOSS.T 1.0 (rn50*.yaml), LAMBDA 1.0 (scripts/prograd.sh, base2new_train_prograd.sh)
        model=dict(lambda_=1.0, temperature=1.0),
        # ProGrad's reference prints no ViT-B/16 numbers; KgCoOp's README quotes these.
        published_average=(82.48, 70.75, 76.16),
        published_source='README.md of htyao89/KgCoOp (ProGrad measured by KgCoOp\'s authors)'),
]


def reference_terms(clip, tokenizer, ctx, imgs, labels, template=PETS):
    """(xe, kd, g_ce, g_kd) of the transcription at ``ctx``."""
    ctx = ctx.detach().clone().requires_grad_(True)
    stu = prograd_student_logits(clip, tokenizer, ctx, imgs, CLASS_NAMES, template)
    tea = prograd_teacher_logits(clip, tokenizer, imgs, CLASS_NAMES, template)
    xe, kd = prograd_loss(stu, tea, labels)
    g_ce, = torch.autograd.grad(xe, ctx, retain_graph=True)
    g_kd, = torch.autograd.grad(kd, ctx)
    return xe.detach(), kd.detach(), g_ce, g_kd


def cosine(a, b) -> float:
    return float((a * b).sum() / a.norm() / b.norm())


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """A reference ProGrad checkpoint of OxfordPets, converted with the converter tool."""
    model = build('ProGrad', prompt_learner=dict(template=PETS))
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    ref = prograd_reference_state_dict(clip, tokenizer, CLASS_NAMES, PETS)
    tmp = tmp_path_factory.mktemp('prograd')
    saved = dict(state_dict=dassl_saved_state_dict('coop', ref), epoch=100)
    torch.save(saved, tmp / 'model.pth.tar-100')  # prompt_learner/model.pth.tar-100
    load_tool('tools/model_converters/reference_to_mm.py').main(
        [str(tmp / 'model.pth.tar-100'), str(tmp / 'prompts.pth')])
    state = torch.load(tmp / 'prompts.pth', weights_only=True)['state_dict']
    assert list(state) == ['prompt_learner.ctx']  # CoOp's keys: the token buffers are dropped
    return state, ref


def loaded_model(converted, efficient: bool = True):
    model = build('ProGrad', prompt_learner=dict(template=PETS), efficient=efficient)
    model.load_state_dict(converted[0])
    return model


@pytest.fixture(scope='module')
def cases(converted):
    """Labels of the batch ``images()`` whose two gradients conflict, and agree, clearly."""
    model = loaded_model(converted)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    ctx, imgs, found = converted[1][PL + 'ctx'].float(), images(), {}
    for labels in itertools.product(range(len(CLASS_NAMES)), repeat=3):
        _, _, g_ce, g_kd = reference_terms(clip, tokenizer, ctx, imgs, torch.tensor(labels))
        cos = cosine(g_ce, g_kd)
        if cos < -0.2:
            found.setdefault('conflicting', list(labels))
        elif cos > 0.2:
            found.setdefault('aligned', list(labels))
        if len(found) == 2:
            return found
    raise AssertionError(f'no clear case among the labels: {found}')


@pytest.mark.parametrize('dataset', sorted(PROGRAD_TEMPLATES))
def test_context_and_prompts_start_as_the_references(converted, dataset):
    """Zeros, then the phrase's first k token embeddings (k words); the same prompt tokens."""
    template = PROGRAD_TEMPLATES[dataset]
    model = build('ProGrad', prompt_learner=dict(template=template))
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    ctx, prefix = prograd_initial_context(clip, tokenizer, template)
    torch.testing.assert_close(model.prompt_learner.ctx.detach(), ctx, rtol=0, atol=0)
    (prompts, ) = model.prompt_learner.class_prompts
    assert torch.equal(prompts.token_ids, _prompt_tokens(tokenizer, prefix, CLASS_NAMES))
    assert torch.equal(prompts.ctx_positions, torch.arange(1, 17).expand(len(CLASS_NAMES), -1))
    (frozen, ) = model.prompt_learner.frozen_prompts  # the teacher's
    assert torch.equal(frozen.token_ids,
                       tokenizer([template.format(n.replace('_', ' ')) for n in CLASS_NAMES]))


def test_the_word_count_quirk_keeps_one_token_of_the_phrase_fixed():
    """"pet," is two tokens: 8 words, 9 tokens; the 9th ("a") stays text after the context."""
    model = build('ProGrad', prompt_learner=dict(template=PETS))
    tokenizer = model.backbone.tokenizer
    (prompts, ) = model.prompt_learner.class_prompts
    a, dog = tokenizer.encode('a')[0], tokenizer.encode('dog')[0]
    assert prompts.token_ids[0, 17:19].tolist() == [a, dog]  # [SOS] ctx x 16, "a", "dog"
    assert (model.prompt_learner.ctx[:8] == 0).all() and (model.prompt_learner.ctx[8:] != 0).all()
    dtd = build('ProGrad', prompt_learner=dict(template=PROGRAD_TEMPLATES['dtd']))
    assert dtd.prompt_learner.class_prompts[0].token_ids[0, 17] == dog  # 3 words, 3 tokens
    with pytest.raises(PromptConfigError, match="must end with"):
        build('ProGrad', prompt_learner=dict(template='{} texture.'))
    with pytest.raises(PromptConfigError, match='fewer than the 8 words'):
        build('ProGrad', prompt_learner=dict(template=PETS, n_ctx=4))
    random = build('ProGrad', prompt_learner=dict(ctx_init=False))  # CTX_INIT False
    assert random.prompt_learner.prompt_prefix == ' '.join(['X'] * 16)


@pytest.mark.parametrize('efficient', [True, False])
def test_on_a_resnet_clip_logits_loss_terms_and_gradients_equal_the_reference(efficient):
    """ProGrad prompts only the text, as on the reference's RN50: on the tiny ResNet CLIP
    (ModifiedResNet image tower, attention pooling) the student's logits, both loss terms and
    both gradients are the transcription's, on both computation paths."""
    model = build('ProGrad', 'resnet', prompt_learner=dict(template=PETS), efficient=efficient)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    assert type(clip.visual).__name__ == 'ModifiedResNet'
    ref = prograd_reference_state_dict(clip, tokenizer, CLASS_NAMES, PETS)
    model.load_state_dict({'prompt_learner.ctx': ref[PL + 'ctx'].float()})
    imgs, labels = images(), torch.tensor([0, 3, 4])
    xe, kd, g_ce, g_kd = reference_terms(clip, tokenizer, ref[PL + 'ctx'].float(), imgs, labels)
    model.train()
    losses = model.loss(imgs, [DataSample().set_gt_label(int(y)) for y in labels])
    torch.testing.assert_close(losses['loss_ce'], xe, **TOL)
    torch.testing.assert_close(losses['loss_kd'], kd, **TOL)
    ctx = model.prompt_learner.ctx
    ours_ce, = torch.autograd.grad(losses['loss_ce'], ctx, retain_graph=True)
    ours_kd, = torch.autograd.grad(losses['loss_kd'], ctx)
    torch.testing.assert_close(ours_ce, g_ce, **TOL)
    torch.testing.assert_close(ours_kd, g_kd, **TOL)
    model.eval()
    with torch.no_grad():
        theirs = prograd_student_logits(clip, tokenizer, ref[PL + 'ctx'].float(), imgs, CLASS_NAMES,
                                        PETS)
        torch.testing.assert_close(model(imgs), theirs, **TOL)


@pytest.mark.parametrize('efficient', [True, False])
def test_logits_loss_terms_and_both_gradients_equal_the_reference(converted, cases, efficient):
    model = loaded_model(converted, efficient)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    imgs, labels = images(), torch.tensor(cases['conflicting'])
    xe, kd, g_ce, g_kd = reference_terms(clip, tokenizer, converted[1][PL + 'ctx'].float(), imgs,
                                         labels)
    model.train()
    losses = model.loss(imgs, [DataSample().set_gt_label(int(y)) for y in labels])
    assert list(losses) == ['loss_ce', 'loss_kd']
    torch.testing.assert_close(losses['loss_ce'], xe, **TOL)
    torch.testing.assert_close(losses['loss_kd'], kd, **TOL)
    ctx = model.prompt_learner.ctx
    ours_ce, = torch.autograd.grad(losses['loss_ce'], ctx, retain_graph=True)
    ours_kd, = torch.autograd.grad(losses['loss_kd'], ctx)
    torch.testing.assert_close(ours_ce, g_ce, **TOL)
    torch.testing.assert_close(ours_kd, g_kd, **TOL)
    model.eval()
    with torch.no_grad():
        expected = prograd_student_logits(clip, tokenizer, ctx, imgs, CLASS_NAMES, PETS)
        torch.testing.assert_close(model(imgs), expected, **TOL)
        torch.testing.assert_close(
            model.teacher_logits(imgs, model.prompted_features(imgs)),
            prograd_teacher_logits(clip, tokenizer, imgs, CLASS_NAMES, PETS), **TOL)


def sgd_step(param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The first step of SGD with momentum (its buffer starts as the gradient) and decay."""
    return param - LR * (grad + WD * param)


@pytest.mark.parametrize('efficient', [True, False])
@pytest.mark.parametrize('case', ['conflicting', 'aligned'])
def test_one_step_lands_on_the_projected_sgd_step(converted, cases, case, efficient):
    model = loaded_model(converted, efficient)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    imgs, labels = images(), torch.tensor(cases[case])
    before = model.prompt_learner.ctx.detach().clone()
    xe, kd, g_ce, g_kd = reference_terms(clip, tokenizer, before, imgs, labels)
    assert (cosine(g_ce, g_kd) < 0) == (case == 'conflicting')
    unit = g_kd / g_kd.norm()
    projected = g_ce - 1.0 * (g_ce * unit).sum() * unit if case == 'conflicting' else g_ce
    expected = sgd_step(before, projected)

    # The transcription of the reference's update, on its own copy of the prompts.
    ref_ctx = before.clone().requires_grad_(True)
    optim = torch.optim.SGD([ref_ctx], lr=LR, momentum=MOMENTUM, weight_decay=WD)
    stu = prograd_student_logits(clip, tokenizer, ref_ctx, imgs, CLASS_NAMES, PETS)
    tea = prograd_teacher_logits(clip, tokenizer, imgs, CLASS_NAMES, PETS)
    prograd_backward_and_update([ref_ctx], optim, *prograd_loss(stu, tea, labels))
    torch.testing.assert_close(ref_ctx.detach(), expected, **TOL)

    # Ours: mmengine's train_step with the wrapper every precision of the recipes builds.
    model.train()
    wrapper = OPTIM_WRAPPERS.build(
        dict(
            type='MixedPrecisionOptimWrapper',
            precision='fp32',
            optimizer=torch.optim.SGD([model.prompt_learner.ctx],
                                      lr=LR,
                                      momentum=MOMENTUM,
                                      weight_decay=WD)))
    data = dict(inputs=list(imgs), data_samples=[DataSample().set_gt_label(int(y)) for y in labels])
    log = model.train_step(data, wrapper)
    after = model.prompt_learner.ctx.detach()
    torch.testing.assert_close(after, expected, **TOL)
    # Each term is logged under its own key; 'loss' is their sum, as mmengine logs it.
    assert list(log) == ['loss', 'loss_ce', 'loss_kd']
    torch.testing.assert_close(log['loss_ce'], xe, **TOL)
    torch.testing.assert_close(log['loss_kd'], kd, **TOL)
    torch.testing.assert_close(log['loss'], xe + kd, **TOL)
    # The step tells the rules apart: not the sum's, not (conflicting) the cross-entropy's.
    others = {'g_ce + g_kd': g_ce + g_kd}
    if case == 'conflicting':
        others['g_ce'] = g_ce
    for name, grad in others.items():
        assert float((after - sgd_step(before, grad)).abs().max()) > APART, name
    assert all(p.grad is None for p in model.parameters())  # zeroed after the step


def test_rule_without_direction_or_conflict_keeps_the_cross_entropy_gradient():
    g = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    assert torch.equal(prompt_aligned_gradient(g, torch.zeros_like(g), 1.0), g)  # no |g_kd|
    assert torch.equal(prompt_aligned_gradient(torch.zeros_like(g), g, 1.0), torch.zeros_like(g))
    assert torch.equal(prompt_aligned_gradient(g, 2 * g, 0.8), g)  # aligned
    g_kd = -g + torch.tensor([[0.0, 0.0], [0.0, 1.0]])  # conflicting: cos(g, g_kd) < 0
    unit = g_kd / g_kd.norm()
    opposed = prompt_aligned_gradient(g, g_kd, 0.8)
    torch.testing.assert_close(opposed, g - 0.8 * (g * unit).sum() * unit)
    # lambda 1: what is left of a conflicting g_ce is orthogonal to g_kd
    torch.testing.assert_close(
        (prompt_aligned_gradient(g, g_kd, 1.0) * unit).sum(), torch.tensor(0.0), atol=1e-6, rtol=0)


def test_reads_the_recipe_values_from_the_config():
    model = MODELS.build(
        dict(
            type='ProGrad',
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            lambda_=0.8,
            temperature=2.0))
    assert (model.lambda_, model.temperature, model.prompt_learner.n_ctx) == (0.8, 2.0, 16)


# -- the update on 2 processes and under fp16 loss scaling ------------------------------
def rank_images(rank: int) -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(100 + rank))


def ddp_worker(prompts: str, out: str, labels: str) -> None:
    """One step on this process's batch; writes OUT/rank<R>.pt (see test_two_processes_*).

    Every rank builds the tiny ProGrad with the prompts PROMPTS, wraps it as
    MapleRunner does on CPUs (``MMDistributedDataParallel``, ``device_ids=None``)
    and takes one ``train_step`` through ``MixedPrecisionOptimWrapper`` on its own
    batch (:func:`rank_images`, the labels LABELS_JSON[rank]). It records its
    prompts after the step, its logged losses, whether a parameter kept a
    gradient, and whether DDP's own reduction was on during the forward.
    """
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel

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
    log = {key: float(value) for key, value in ddp.train_step(data, wrapper).items()}
    record = dict(
        ctx=model.prompt_learner.ctx.detach().clone(),
        log=log,
        grads_left=[n for n, p in model.named_parameters() if p.grad is not None],
        ddp_reduces=synced)
    torch.save(record, os.path.join(out, f'rank{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


def forked_rank(rank: int, port: int, *args: str) -> None:
    """:func:`ddp_worker` as rank ``rank`` of 2, in a process forked from the test's."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE='2',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port))
    ddp_worker(*args)


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
    # Two processes forked from this one (its imports are done: a fresh interpreter per
    # rank would repeat them), meeting over gloo as torchrun's workers do.
    port, fork = free_port(), multiprocessing.get_context('fork')
    ranks = [
        fork.Process(
            target=forked_rank,
            args=(rank, port, str(tmp / 'prompts.pth'), str(tmp), json.dumps(labels)))
        for rank in (0, 1)
    ]
    for process in ranks:
        process.start()
    for process in ranks:
        process.join(timeout=600)
    assert [p.exitcode for p in ranks] == [0, 0], 'a rank failed; its traceback is above'
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


# -- through the tools --------------------------------------------------------------
@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A shipped base-to-novel config on the tiny CLIP, through tools/train.py."""
    tmp = tmp_path_factory.mktemp('prograd')
    data = tmp / 'data'
    write_miniature(
        data, 'stanford_cars', num_classes=NUM_CLASSES, images_per_class=2, image_size=SIZE)
    cfg = tiny(
        load(CONFIGS / 'prograd' / 'base2novel_stanford_cars.py'), data, tmp / 'work', epochs=2)
    cfg.default_hooks.logger.interval = 1  # a log line at every iteration
    config = tmp / 'prograd_tiny.py'
    cfg.dump(str(config))
    proc = run_tool('train.py', config, '--work-dir', tmp / 'work')
    return dict(config=config, work=tmp / 'work', log=proc.stdout + proc.stderr)


def test_training_logs_each_term_and_their_sum(trained):
    lines = [line for line in trained['log'].splitlines() if 'Epoch(train)' in line]
    assert lines and all('loss_ce: ' in line and 'loss_kd: ' in line for line in lines)
    assert 'MixedPrecisionOptimWrapper' in trained['log']  # fp32 on CPU, the rule's wrapper
    (scalars, ) = trained['work'].glob('*/vis_data/scalars.json')
    steps = [json.loads(line) for line in scalars.read_text().splitlines()]
    steps = [s for s in steps if 'loss_ce' in s]
    assert {s['epoch'] for s in steps} == {1, 2}  # every iteration of both epochs
    for step in steps:
        assert step['loss'] == pytest.approx(step['loss_ce'] + step['loss_kd'], abs=2e-4)


def test_test_tool_reproduces_the_runs_metrics(trained):
    """tools/test.py (in this process) of the run's checkpoint gives the run's metrics."""
    work = trained['work']
    assert run_tool_here('test', trained['config'], work / 'epoch_2.pth', '--work-dir',
                         work / 'eval') is None
    metrics = read_test_metrics(work / 'eval')
    assert set(metrics) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    assert metrics == read_test_metrics(work)


# -- the recipe's shot-dependent values ----------------------------------------------
@pytest.mark.parametrize('dataset', DATASETS)
def test_few_shot_values_follow_the_shots(dataset):
    for shots, epochs in EPOCHS_BY_SHOTS.items():
        cfg = load(CONFIGS / 'prograd' / f'few_shot_{dataset}.py', '--shots', str(shots))
        epochs = 50 if dataset == 'imagenet' else epochs  # eval.sh loads ImageNet at epoch 50
        lambda_ = 0.8 if shots >= 8 and dataset in LAMBDA_08 else 1.0
        assert cfg.train_cfg.max_epochs == epochs, shots  # the lr schedule follows it
        assert cfg.model.lambda_ == lambda_, shots
        assert cfg.train_dataloader.dataset.num_shots == shots


def test_a_value_the_user_set_beats_the_shots_table_and_names_the_variant():
    config = CONFIGS / 'prograd' / 'few_shot_eurosat.py'
    cfg = load(config, '--shots', '4')
    assert (cfg.model.lambda_, cfg.train_cfg.max_epochs) == (1.0, 100)  # 16 shots: 0.8, 200
    mine = {'model.lambda_': 0.5, 'train_cfg.max_epochs': 3}  # --cfg-options
    cfg = load_run_config(str(config), mine, shots=4)
    assert (cfg.model.lambda_, cfg.train_cfg.max_epochs) == (0.5, 3)  # theirs, not the table's
    for shots in ('4', '8'):  # the table's values are the recipe's: the same variant
        assert record_of(config, '--shots', shots)['variant'] == 'prograd/few_shot'
    assert record_of(config, '--shots', '4', '--cfg-options', 'model.lambda_=0.5')['variant'] \
        == 'prograd/few_shot [model.lambda_=0.5]'
