"""ProGrad against the transcription of its reference trainer (tests/reference_prograd.py).

The context starts as the reference's (zeros first, the word-count quirk); a
reference checkpoint converted by the converter tool gives the reference's
logits, both loss terms and both gradients, on both computation paths; one
optimizer step through mmengine's ``train_step`` lands on the projected SGD
step computed by hand and by the transcription of the reference's update,
on conflicting and on aligned gradients, and not where the sum or the
cross-entropy alone would take it. The 2-process and fp16 versions of the step
are in test_prograd_update.py.
"""
import itertools

import pytest
import torch
from mmpretrain.registry import MODELS, OPTIM_WRAPPERS
from mmpretrain.structures import DataSample

from maple_mm.errors import PromptConfigError
from maple_mm.models.methods.prograd import prompt_aligned_gradient
from tests.conftest import load_tool
from tests.reference_prograd import (PROGRAD_TEMPLATES, prograd_backward_and_update,
                                     prograd_initial_context, prograd_loss,
                                     prograd_reference_state_dict, prograd_student_logits,
                                     prograd_teacher_logits)
from tests.reference_trainers import PL, _prompt_tokens, dassl_saved_state_dict
from .successor_parity import CLASS_NAMES, TOL, build, images

pytestmark = pytest.mark.usefixtures('one_thread')
PETS = PROGRAD_TEMPLATES['oxford_pets']  # 8 words, 9 tokens: one stays fixed text
#: SGD of the recipes (momentum 0.9, weight decay 5e-4); a large lr so that the rules' steps
#: differ far beyond the tolerance.
LR, MOMENTUM, WD = 0.1, 0.9, 5e-4
#: Rules whose steps must be told apart from ProGrad's: farther than this from it.
APART = 1e-3


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
            backbone=dict(type='OpenCLIPBackbone', model_cfg=build.__globals__['TINY_CLIP_CFG']),
            lambda_=0.8,
            temperature=2.0))
    assert (model.lambda_, model.temperature, model.prompt_learner.n_ctx) == (0.8, 2.0, 16)
