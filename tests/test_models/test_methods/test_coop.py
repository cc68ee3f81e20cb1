"""CoOp: its test rows (recipes, reference checkpoints) and the tests of CoOp alone.

Its parity against the reference trainer is in tests/test_models/test_method_parity.py,
shared with the other trainers of muzairkhattak/multimodal-prompt-learning.
"""
import pytest
import torch

from maple_mm.errors import CheckpointMismatchError, ClassNameError
from tests import reference_trainers as ref_trainers
from tests.method_rows import ConverterCase, MethodRows, Recipe
from tests.test_configs.zoo import CONFIGS, built
from tests.test_tools.reference_checkpoints import (CLASS_NAMES, build_model, conv, convert,
                                                    printed_model_config, save_reference_checkpoint,
                                                    saved_state_dict)

COOP = 'KaiyangZhou/CoOp'
#: The baselines' shared files: transcriptions and parity of the MaPLe repository's trainers.
BASELINE_FILES = ('tests/reference_trainers.py', 'tests/test_reference_trainers.py',
                  'tests/test_models/test_method_parity.py')
CTXV1 = dict(
    type='CoOpPromptLearner',
    n_ctx=4,
    ctx_init='a photo of a',
    class_specific=False,
    class_token_position='end')
#: The reference's defaults (N_CTX 16, CSC False, CTP end; its ViT-B/16 configs set none).
RANDOM = dict(CTXV1, n_ctx=16, ctx_init='')
EPOCHS_BY_SHOTS = {1: 50, 2: 100, 4: 100, 8: 200, 16: 200}  # docs/CoOp.md of the reference

EXPECTED = [
    MethodRows(
        folder='coop',
        recipes={
            'base2novel':
            Recipe(0.002, 32, 200, CTXV1, 'fp16',
                   f'{COOP} configs/trainers/CoOp/vit_b16_ctxv1.yaml',
                   f'{COOP} scripts/cocoop/base2new_train.sh (CFG=vit_b16_ctxv1 for CoOp)'),
            ('base2novel', 'imagenet'):
            Recipe(0.002, 32, 50, CTXV1, 'fp16',
                   f'{COOP} configs/trainers/CoOp/vit_b16_ep50_ctxv1.yaml',
                   f'{COOP} scripts/cocoop/base2new_train.sh (vit_b16_ep50_ctxv1 for ImageNet)'),
            'cross_dataset':
            Recipe(0.002, 32, 50, CTXV1, 'fp16',
                   f'{COOP} configs/trainers/CoOp/vit_b16_ep50_ctxv1.yaml',
                   f'{COOP} scripts/cocoop/xd_train.sh (CFG=vit_b16_ep50_ctxv1 for CoOp)'),
            # 16 shots: vit_b16.yaml (200 epochs); --shots K takes values_by_shots.
            'few_shot':
            Recipe(
                0.002,
                32,
                200,
                RANDOM,
                'fp16',
                f'{COOP} configs/trainers/CoOp/vit_b16.yaml',
                f'{COOP} scripts/coop/main.sh, N_CTX 16 CSC False CTP end (train.py defaults)',
                values_by_shots=dict(max_epochs=EPOCHS_BY_SHOTS)),
            # ImageNet: 50 epochs at every K.
            ('few_shot', 'imagenet'):
            Recipe(
                0.002,
                32,
                50,
                RANDOM,
                'fp16',
                f'{COOP} configs/trainers/CoOp/vit_b16_ep50.yaml',
                values_by_shots=dict(max_epochs={k: 50
                                                 for k in EPOCHS_BY_SHOTS})),
        },
        converter=(
            ConverterCase('coop', 'coop', 'CoOp', dict(n_ctx=4),
                          dict(n_ctx=4, ctx_init='', csc=False),
                          ref_trainers.coop_reference_state_dict, ref_trainers.coop_logits, 'coop',
                          dict(n_ctx=4, class_specific=False, text_width=32)),
            ConverterCase(
                'coop-csc', 'coop', 'CoOp',
                dict(
                    n_ctx=3,
                    class_specific=True,
                    num_classes=len(CLASS_NAMES),
                    class_token_position='front'),
                dict(n_ctx=3, ctx_init='', csc=True, class_token_position='front'),
                ref_trainers.coop_reference_state_dict, ref_trainers.coop_logits, 'coop',
                dict(n_ctx=3, class_specific=True, num_classes=5, text_width=32)),
        ),
        published_average=(82.69, 63.22, 71.66),
        published_source='Table 1 of the MaPLe paper (the CoCoOp paper\'s CoOp row)',
        files=BASELINE_FILES),
]


def test_published_rows_train_4_words_not_16_random_vectors():
    """The CoCoOp / MaPLe papers' CoOp rows: CTX_INIT "a photo of a" (4 tokens)."""
    for name in ('base2novel_dtd', 'base2novel_imagenet', 'cross_dataset_imagenet',
                 'domain_generalization_imagenet'):
        learner = built(CONFIGS / 'coop' / f'{name}.py').model.prompt_learner
        assert (learner.n_ctx, learner.ctx_init) == (4, 'a photo of a'), name
    assert built(CONFIGS / 'coop' / 'base2novel_dtd.py').train_cfg.max_epochs == 200


# -- reference checkpoints ----------------------------------------------------------------
def test_class_specific_checkpoint_names_its_classes(tmp_path, monkeypatch, capsys, backbone):
    _, saved = saved_state_dict(backbone, 'coop-csc')
    out = convert(tmp_path,
                  save_reference_checkpoint(tmp_path / 'ref.pth', saved, monkeypatch, epoch=50))
    printed = capsys.readouterr().out
    meta = torch.load(out, weights_only=True)['meta']
    assert meta['class_specific'] is True and meta['num_classes'] == 5
    assert 'exactly the 5 classes it was trained on' in printed
    assert printed_model_config(printed)['prompt_learner'] == dict(
        n_ctx=3, class_specific=True, num_classes=5)
    # A model built for another number of classes refuses the checkpoint clearly.
    model = build_model('coop-csc', num_classes=3)
    with pytest.raises(CheckpointMismatchError, match=r'\(5, 3, 32\) vs model \(3, 3, 32\)'):
        model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])
    model = build_model('coop-csc')
    model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])
    with pytest.raises(ClassNameError, match='each of 5 classes'):
        model.set_class_names(CLASS_NAMES[:3])


def test_an_unknown_key_of_a_prompt_learner_saved_alone(backbone):
    _, saved = saved_state_dict(backbone, 'coop')
    saved['bias'] = torch.zeros(32)  # a CoOp file holds only its prompt learner
    with pytest.raises(conv.ConversionError, match=r"Unknown keys \['prompt_learner\.bias'\]"):
        conv.convert_state_dict(saved)


# -- the model ----------------------------------------------------------------------------
def test_a_second_prompt_set_never_shares_the_first_ones_layout():
    """Encoding another prompt set after the learner's gets its own layout and features.

    Layouts were keyed on (class names, index): a template set encoded at
    index 0 after a CoOp forward reused the context prompts' layout and came
    out wrong (off by 2.21 on a scale of 1.78), without an error.
    """
    from mmpretrain.registry import MODELS

    from maple_mm.models import TINY_CLIP_CFG
    from maple_mm.models.class_prompts import tokenize_prompts
    from maple_mm.models.prompt_learner import Prompts

    names = ['red', 'green', 'blue']
    model = MODELS.build(
        dict(
            type='CoOp',
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(n_ctx=4),
            class_names=names))
    model.eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))  # the learner's layout is now known
        sentences = [f'a photo of a {name}, a type of pet.' for name in names]
        templates = tokenize_prompts(model.backbone, sentences)
        assert templates.key != model.prompt_learner.class_prompts[0].key
        ours = model.encode_prompt_set(templates, Prompts())[0]
        clip = model.backbone.clip
        expected = clip.encode_text(model.backbone.tokenize(sentences))
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
