"""CoOp: its test rows (recipes, reference checkpoints) and the tests of CoOp alone.

Its parity against the reference trainer is in tests/test_models/test_method_parity.py,
shared with the other trainers of muzairkhattak/multimodal-prompt-learning.
"""
import json

import pytest
import torch

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS
from maple_mm.errors import CheckpointMismatchError, ClassNameError
from tests import reference_trainers as ref_trainers
from tests.method_rows import ClipRecipes, ConverterCase, MethodRows, Recipe
from tests.test_configs.tiny_runs import fast_cpu_runs  # noqa: F401
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

#: CoOp's few-shot figure on RN50 (COOP.md: ``main.sh <dataset> rn50_ep50 end 16 1 False`` ...
#: ``rn50 end 16 16 False``, and CSC True): 16 shots rn50.yaml; ImageNet rn50_ep50.yaml at
#: every K.
RN50_FEW_SHOT = Recipe(
    0.002,
    32,
    200,
    RANDOM,
    'fp16',
    f'{COOP} configs/trainers/CoOp/rn50.yaml',
    f'{COOP} COOP.md, scripts/coop/main.sh (N_CTX 16, CTP end, CSC False)',
    values_by_shots=dict(max_epochs=EPOCHS_BY_SHOTS))
RN50_IMAGENET = RN50_FEW_SHOT._replace(
    epochs=50,
    source=f'{COOP} configs/trainers/CoOp/rn50_ep50.yaml',
    how=f'{COOP} COOP.md: *_ep50.yaml for ImageNet at every K',
    values_by_shots=dict(max_epochs={k: 50
                                     for k in EPOCHS_BY_SHOTS}))


def class_specific(row: Recipe, dataset: str) -> Recipe:
    """The CSC variant (TRAINER.COOP.CSC True): a context per class of the dataset."""
    return row._replace(
        learner=dict(row.learner, class_specific=True, num_classes=BENCHMARKS[dataset].num_classes),
        how=row.how.replace('CSC False', 'CSC True'))


def table1(yaml: str, n_ctx: int = 16) -> Recipe:
    """CoOp's Table 1: ImageNet, 16 shots, M context vectors, end (scripts/coop/main.sh
    imagenet ``yaml``), tested on the variants by scripts/coop/eval.sh."""
    return Recipe(0.002, 32, 50, dict(RANDOM, n_ctx=n_ctx), 'fp16',
                  f'{COOP} configs/trainers/CoOp/{yaml}.yaml',
                  f'{COOP} scripts/coop/main.sh imagenet (NCTX {n_ctx}), scripts/coop/eval.sh')


#: The CoOp repository's recipes on other CLIPs: the few-shot figure on RN50 (M=16, and
#: class-specific: its 'few_shot' row lists the datasets, each has its own), Table 1 on RN50,
#: RN101, ViT-B/32 and ViT-B/16 (M=16 and M=4: the setting's '_nctx4').
TABLE1_CLIPS = {'rn50': 'RN50', 'rn101': 'RN101', 'vit_b32': 'ViT-B-32', 'vit_b16': 'ViT-B-16'}
OTHER_CLIPS = {
    'rn50':
    ClipRecipes(
        'RN50', {
            'few_shot': RN50_FEW_SHOT,
            ('few_shot', 'imagenet'): RN50_IMAGENET,
            'domain_generalization': table1('rn50_ep50')
        }),
    'rn50_csc':
    ClipRecipes(
        'RN50', {
            'few_shot': RN50_FEW_SHOT,
            **{
                ('few_shot', d): class_specific(RN50_FEW_SHOT, d)
                for d in BASE_TO_NOVEL
            },
            ('few_shot', 'imagenet'): class_specific(RN50_IMAGENET, 'imagenet'),
        }),
}
for _token, _clip in TABLE1_CLIPS.items():
    OTHER_CLIPS[f'{_token}_nctx4'] = ClipRecipes(
        _clip, {'domain_generalization': table1(f'{_token}_ep50', n_ctx=4)})
    if _token != 'rn50':
        OTHER_CLIPS[_token] = ClipRecipes(_clip,
                                          {'domain_generalization': table1(f'{_token}_ep50')})

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
        other_clips=OTHER_CLIPS,
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


# -- the CoOp paper's recipes and numbers on other CLIPs ------------------------------------
def test_table1_is_published_on_four_clips_with_both_context_lengths():
    """CoOp's Table 1 (ImageNet -> 4 variants), M=16 and M=4, each row with its config."""
    from maple_mm.evaluation.published import PER_SET_ROWS
    rows = {
        (clip, row.setting): row
        for clip, clip_rows in PER_SET_ROWS['domain_generalization'].items()
        for row in clip_rows if row.method == 'CoOp' and row.setting
    }
    assert sorted(rows) == sorted(
        (clip, f'{token}{suffix}')
        for token, clip in (('rn50', 'RN50'), ('rn101', 'RN101'), ('vit_b32', 'ViT-B-32'),
                            ('vit_b16', 'ViT-B-16')) for suffix in ('', '_nctx4'))
    for (clip, setting), row in rows.items():
        assert built(
            CONFIGS.parent /
            row.config).model.prompt_learner.n_ctx == (4 if setting.endswith('_nctx4') else 16)
    # The RN50 M=4 row is the one TPT's README reprints as "CoOp" (test-time-spec.md, 1).
    assert rows['RN50', 'rn50_nctx4'].numbers == dict(
        imagenet=63.33, imagenetv2=55.40, imagenet_sketch=34.67, imagenet_a=23.06, imagenet_r=56.60)


def test_the_class_specific_rn50_few_shot_config_builds():
    """CoOp's CSC recipe: a context per class of the dataset (47 for DTD), on RN50 (random
    weights, as open_clip builds it)."""
    from mmpretrain.registry import MODELS
    cfg = built(CONFIGS / 'coop' / 'few_shot_rn50_csc_dtd.py').model.copy()
    cfg.backbone = dict(cfg.backbone, pretrained=None)
    model = MODELS.build(cfg)
    assert tuple(model.prompt_learner.ctx.shape) == (47, 16, 512)
    assert model.backbone.embed_dim == 1024
    model.set_class_names([f'class {i}' for i in range(47)])
    model.eval()
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model(image).shape == (1, 47)


def test_rn50_class_specific_few_shot_trains_on_a_resnet(fast_cpu_runs, tmp_path):  # noqa: F811
    """CoOp's few-shot figure recipe (RN50, a context per class) on the tiny ResNet CLIP."""
    from mmpretrain.registry import RUNNERS

    from tests.miniature_datasets import write_miniature
    from tests.test_configs.tiny_runs import NUM_CLASSES, SIZE, load, tiny
    write_miniature(
        tmp_path / 'data', 'dtd', num_classes=NUM_CLASSES, images_per_class=2, image_size=SIZE)
    cfg = load(CONFIGS / 'coop' / 'few_shot_rn50_csc_dtd.py', '--shots', '1')
    assert cfg.train_cfg.max_epochs == 50  # CoOp: 1 shot, rn50_ep50.yaml
    cfg = tiny(cfg, tmp_path / 'data', tmp_path / 'work')
    runner = RUNNERS.build(cfg)
    runner.train()
    metrics = runner.test()
    assert type(runner.model.backbone.clip.visual).__name__ == 'ModifiedResNet'
    assert runner.model.prompt_learner.ctx.shape[0] == NUM_CLASSES
    assert set(metrics) == {'test/accuracy/top1'}
    (path, ) = (tmp_path / 'work').glob('*/test_metrics.json')
    record = json.loads(path.read_text())['record']
    assert (record['config'], record['backbone']) == ('few_shot_rn50_csc_dtd', 'custom')


# -- CoOp's released prompts: the run folders name the CLIP ----------------------------------
def coop_released_file(root, monkeypatch, folder, n_ctx=16, csc=False, num_classes=10):
    """A CoOp prompt learner saved as scripts/coop/main.sh saves it under ``folder``."""
    shape = (num_classes, n_ctx, 512) if csc else (n_ctx, 512)
    state_dict = dict(
        ctx=torch.randn(*shape).half(),
        token_prefix=torch.randn(num_classes, 1, 512).half(),
        token_suffix=torch.randn(num_classes, 76 - n_ctx, 512).half())
    path = root / folder / 'seed1' / 'prompt_learner' / 'model.pth.tar-50'
    path.parent.mkdir(parents=True)
    return save_reference_checkpoint(path, state_dict, monkeypatch, epoch=50)


@pytest.mark.parametrize('yaml,clip', [('rn50_ep50', 'RN50'), ('rn101', 'RN101'),
                                       ('vit_b32_ep50', 'ViT-B-32'), ('vit_b16_ep50', 'ViT-B-16')])
def test_coop_released_prompts_say_their_clip(tmp_path, monkeypatch, capsys, yaml, clip):
    ref_path = coop_released_file(
        tmp_path, monkeypatch, f'imagenet/CoOp/{yaml}_16shots/nctx4_cscFalse_ctpend', n_ctx=4)
    ckpt = torch.load(convert(tmp_path, ref_path), map_location='cpu', weights_only=True)
    meta = dict(ckpt['meta'])
    written = meta.pop('written_by')
    assert (written['clip']['model_name'], written['clip']['pretrained']) == (clip, 'openai')
    assert meta == dict(
        method='coop',
        converted_from='model.pth.tar-50',
        epoch=50,
        clip=clip,
        n_ctx=4,
        class_specific=False,
        text_width=512)
    printed = capsys.readouterr().out
    assert (f"Use the CLIP the reference was trained with ({clip} with pretrained='openai': its "
            f'run folder {yaml}_16shots/nctx4_cscFalse_ctpend says so; text width 512).') in printed
    assert printed_model_config(printed) == dict(
        type='CoOp', prompt_learner=dict(n_ctx=4, class_specific=False))
    assert 'WARNING' not in printed


def test_coop_run_folders_give_the_class_position_and_catch_a_mismatch(
        tmp_path, monkeypatch, capsys):
    middle = coop_released_file(
        tmp_path, monkeypatch, 'a/rn50_16shots/nctx16_cscTrue_ctpmiddle', csc=True)
    convert(tmp_path, middle, 'middle.pth')
    printed = capsys.readouterr().out
    assert printed_model_config(printed)['prompt_learner'] == dict(
        n_ctx=16, class_specific=True, num_classes=10, class_token_position='middle')
    wrong = coop_released_file(
        tmp_path, monkeypatch, 'b/rn50_ep50_16shots/nctx4_cscTrue_ctpend', n_ctx=16)
    convert(tmp_path, wrong, 'wrong.pth')
    printed = capsys.readouterr().out
    assert ('WARNING: the run folder rn50_ep50_16shots/nctx4_cscTrue_ctpend says 4 context '
            'vectors, the prompts hold 16.') in printed
    assert 'says cscTrue, the prompts are not class-specific.' in printed


def test_text_only_prompts_without_run_folders_name_the_clips_of_their_widths(
        tmp_path, monkeypatch, capsys):
    """CoOp's text width (512) is that of RN50, RN101, ViT-B/32 and ViT-B/16 alike."""
    ref_path = coop_released_file(tmp_path, monkeypatch, 'somewhere')
    convert(tmp_path, ref_path)
    assert ('text width 512: RN50, RN101, ViT-B-32 or ViT-B-16 with pretrained=\'openai\''
            in capsys.readouterr().out)
    assert conv.run_folder_settings(str(ref_path)) == {}
    assert conv.run_folder_settings('x/rn50x4_16shots/nctx16_cscFalse_ctpend/seed1/f') == {}


def test_prompts_of_one_clip_are_refused_by_a_config_of_another(tmp_path, monkeypatch, capsys):
    """The text width (512) of the four CLIPs is the same: the CLIP its run folder names is
    what keeps RN50 prompts out of a ViT-B/16 model."""
    from maple_mm.errors import OtherWriterError
    from maple_mm.provenance import check_writer, expecting_writer
    ref_path = coop_released_file(tmp_path, monkeypatch,
                                  'imagenet/CoOp/rn50_ep50_16shots/nctx16_cscFalse_ctpend')
    out = convert(tmp_path, ref_path)
    checkpoint = torch.load(out, weights_only=True)
    with expecting_writer(built(CONFIGS / 'coop' / 'domain_generalization_rn50_imagenet.py')):
        check_writer(str(out), checkpoint)
    vit = built(CONFIGS / 'coop' / 'domain_generalization_vit_b16_imagenet.py')
    with expecting_writer(vit), pytest.raises(
            OtherWriterError,
            match=r'was learned on RN50 \(openai\), but the config builds ViT-B-16 \(openai\)'):
        check_writer(str(out), checkpoint)
