"""Every shipped training config resolves to its reference recipe, value by value.

The table below is written from the reference repositories' own files, named
per value, independently of the config files: lr, train batch, epochs, the
prompt settings, the precision (the trainers' ``PREC``), the base batch of
``--auto-scale-lr`` and the CLIP (the yaml's ``MODEL.BACKBONE.NAME``). The SGD
settings and the warm-up are Dassl's (``dassl/config/defaults.py``: momentum
0.9, weight decay 5e-4, no nesterov;
each yaml: ``WARMUP_EPOCH 1``, ``WARMUP_TYPE constant``, ``WARMUP_CONS_LR 1e-5``,
cosine). Configs are loaded with ``Config.fromfile`` as the tools load them.
"""
from typing import NamedTuple, Optional

import pytest

from .zoo import (CONFIGS, DATASETS, METHODS, built, clip_leaf_configs, dataset_of, protocol_of,
                  setting_of)

MMPL = 'muzairkhattak/multimodal-prompt-learning'
COOP = 'KaiyangZhou/CoOp'
KGCOOP = 'htyao89/KgCoOp'
PROMPTSRC = 'muzairkhattak/PromptSRC'
DASSL_SGD = dict(type='SGD', momentum=0.9, weight_decay=5e-4, nesterov=False)


class Recipe(NamedTuple):
    lr: float
    batch: int
    epochs: int
    prompts: dict  # values of model.prompt_learner
    precision: str  # on CUDA; CPUs train in fp32
    source: str  # the reference file the values come from
    how: Optional[str] = None  # the script that runs it, or why it was chosen
    backbone: str = 'ViT-B/16'  # MODEL.BACKBONE.NAME of the yaml (OpenAI's name)


#: OpenAI's CLIP names (the yamls' MODEL.BACKBONE.NAME) as open_clip names them.
OPEN_CLIP_NAMES = {'RN50': 'RN50', 'RN101': 'RN101', 'ViT-B/32': 'ViT-B-32', 'ViT-B/16': 'ViT-B-16'}

COOP_CTXV1 = dict(
    n_ctx=4, ctx_init='a photo of a', class_specific=False, class_token_position='end')
COOP_RANDOM = dict(n_ctx=16, ctx_init='', class_specific=False, class_token_position='end')
COCOOP = dict(n_ctx=4, ctx_init='a photo of a')
MAPLE = dict(n_ctx=2, ctx_init='a photo of a', depth=9)
IVLP = dict(n_ctx_text=2, n_ctx_vision=2, depth_text=12, depth_vision=12, ctx_init='a photo of a')
LP = dict(n_ctx=4, depth=12, ctx_init='a photo of a')
VPT = dict(n_ctx=8, depth=12)
KG = dict(n_ctx=4, ctx_init='a photo of a')
SRC = dict(n_ctx_text=4, n_ctx_vision=4, depth_text=9, depth_vision=9, ctx_init='a photo of a')
NO_FEW_SHOT = 'the reference ships no few-shot recipe: its base-to-novel one, 50 epochs'

#: (method folder, protocol[, dataset]) -> the reference recipe. A dataset entry
#: overrides the protocol's for that dataset. Domain generalisation trains as
#: cross-dataset does. A recipe on another CLIP is keyed (folder, protocol, setting[,
#: dataset]), the setting as its configs' names say it ('rn50', 'rn50_csc').
RECIPES = {
    ('coop', 'base2novel'):
    Recipe(0.002, 32, 200, COOP_CTXV1, 'fp16', f'{COOP} configs/trainers/CoOp/vit_b16_ctxv1.yaml',
           f'{COOP} scripts/cocoop/base2new_train.sh (CFG=vit_b16_ctxv1 for CoOp)'),
    ('coop', 'base2novel', 'imagenet'):
    Recipe(0.002, 32, 50, COOP_CTXV1, 'fp16',
           f'{COOP} configs/trainers/CoOp/vit_b16_ep50_ctxv1.yaml',
           f'{COOP} scripts/cocoop/base2new_train.sh (vit_b16_ep50_ctxv1 for ImageNet)'),
    ('coop', 'cross_dataset'):
    Recipe(0.002, 32, 50, COOP_CTXV1, 'fp16',
           f'{COOP} configs/trainers/CoOp/vit_b16_ep50_ctxv1.yaml',
           f'{COOP} scripts/cocoop/xd_train.sh (CFG=vit_b16_ep50_ctxv1 for CoOp)'),
    # 16 shots: vit_b16.yaml (200 epochs); --shots K takes epochs_by_shots.
    ('coop', 'few_shot'):
    Recipe(0.002, 32, 200, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/vit_b16.yaml',
           f'{COOP} scripts/coop/main.sh, N_CTX 16 CSC False CTP end (train.py defaults)'),
    ('coop', 'few_shot', 'imagenet'):
    Recipe(0.002, 32, 50, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/vit_b16_ep50.yaml'),
    # CoOp's few-shot figure on RN50 (COOP.md: `main.sh <dataset> rn50_ep50 end 16 1 False` ...
    # `rn50 end 16 16 False`, and CSC True): 16 shots rn50.yaml, ImageNet rn50_ep50.yaml.
    ('coop', 'few_shot', 'rn50'):
    Recipe(0.002, 32, 200, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/rn50.yaml',
           f'{COOP} COOP.md, scripts/coop/main.sh (N_CTX 16, CTP end, CSC False)', 'RN50'),
    ('coop', 'few_shot', 'rn50', 'imagenet'):
    Recipe(0.002, 32, 50, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/rn50_ep50.yaml',
           f'{COOP} COOP.md: *_ep50.yaml for ImageNet at every K', 'RN50'),
    ('coop', 'few_shot', 'rn50_csc'):
    Recipe(0.002, 32, 200, dict(COOP_RANDOM, class_specific=True), 'fp16',
           f'{COOP} configs/trainers/CoOp/rn50.yaml',
           f'{COOP} COOP.md, scripts/coop/main.sh (N_CTX 16, CTP end, CSC True)', 'RN50'),
    ('coop', 'few_shot', 'rn50_csc', 'imagenet'):
    Recipe(0.002, 32, 50, dict(COOP_RANDOM, class_specific=True), 'fp16',
           f'{COOP} configs/trainers/CoOp/rn50_ep50.yaml',
           f'{COOP} COOP.md: *_ep50.yaml for ImageNet at every K', 'RN50'),
    # CoOp's Table 1: ImageNet, 16 shots, 16 ctx, end (main.sh), tested by eval.sh.
    ('coop', 'cross_dataset', 'rn50'):
    Recipe(0.002, 32, 50, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/rn50_ep50.yaml',
           f'{COOP} scripts/coop/main.sh imagenet, scripts/coop/eval.sh', 'RN50'),
    ('coop', 'cross_dataset', 'rn101'):
    Recipe(0.002, 32, 50, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/rn101_ep50.yaml',
           f'{COOP} scripts/coop/main.sh imagenet, scripts/coop/eval.sh', 'RN101'),
    ('coop', 'cross_dataset', 'vit_b32'):
    Recipe(0.002, 32, 50, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/vit_b32_ep50.yaml',
           f'{COOP} scripts/coop/main.sh imagenet, scripts/coop/eval.sh', 'ViT-B/32'),
    ('coop', 'cross_dataset', 'vit_b16'):
    Recipe(0.002, 32, 50, COOP_RANDOM, 'fp16', f'{COOP} configs/trainers/CoOp/vit_b16_ep50.yaml',
           f'{COOP} scripts/coop/main.sh imagenet, scripts/coop/eval.sh', 'ViT-B/16'),
    ('cocoop', 'base2novel'):
    Recipe(0.002, 1, 10, COCOOP, 'fp16',
           f'{MMPL} configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml',
           f'{COOP} scripts/cocoop/base2new_train.sh'),
    ('cocoop', 'cross_dataset'):
    Recipe(0.002, 1, 10, COCOOP, 'fp16',
           f'{MMPL} configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml',
           f'{COOP} scripts/cocoop/xd_train.sh'),
    ('cocoop', 'few_shot'):
    Recipe(0.002, 1, 50, COCOOP, 'fp16',
           f'{MMPL} configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml', NO_FEW_SHOT),
    ('maple', 'base2novel'):
    Recipe(0.0035, 4, 5, MAPLE, 'fp16',
           f'{MMPL} configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml',
           f'{MMPL} scripts/maple/base2new_train_maple.sh'),
    ('maple', 'cross_dataset'):
    Recipe(0.0026, 4, 2, dict(MAPLE, depth=3), 'fp16',
           f'{MMPL} configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml',
           f'{MMPL} scripts/maple/xd_train_maple.sh'),
    ('maple', 'few_shot'):
    Recipe(0.0035, 4, 50, MAPLE, 'fp16',
           f'{MMPL} configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml', NO_FEW_SHOT),
    ('ivlp', 'base2novel'):
    Recipe(0.0035, 4, 5, IVLP, 'fp16',
           f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml',
           f'{MMPL} scripts/independent-vlp/base2new_train_ivlp.sh'),
    ('ivlp', 'cross_dataset'):
    Recipe(0.0035, 4, 5, IVLP, 'fp16',
           f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml',
           f'{MMPL} scripts/independent-vlp/xd_train_ivlp.sh'),
    ('ivlp', 'few_shot'):
    Recipe(0.0035, 4, 50, IVLP, 'fp16',
           f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml', NO_FEW_SHOT),
    ('language_prompting', 'base2novel'):
    Recipe(0.0025, 4, 5, LP, 'fp16',
           f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only.yaml',
           f'{MMPL} scripts/language-prompting/base2new_train_lp.sh'),
    ('language_prompting', 'cross_dataset'):
    Recipe(0.0025, 4, 5, LP, 'fp16',
           f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only.yaml',
           f'{MMPL} scripts/language-prompting/xd_train_lp.sh'),
    ('language_prompting', 'few_shot'):
    Recipe(0.0025, 4, 50, LP, 'fp16',
           f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only.yaml',
           NO_FEW_SHOT),
    # VPT: PREC fp16 in the yaml, but trainers/vpt.py's load_clip_to_cpu returns
    # model.float(): it trains in fp32.
    ('vpt', 'base2novel'):
    Recipe(0.0025, 4, 5, VPT, 'fp32', f'{MMPL} configs/trainers/VPT/vit_b16_c2_ep5_batch4_4.yaml',
           f'{MMPL} scripts/vpt/base2new_train_vpt.sh; fp32: {MMPL} trainers/vpt.py'),
    ('vpt', 'cross_dataset'):
    Recipe(0.0025, 4, 5, VPT, 'fp32', f'{MMPL} configs/trainers/VPT/vit_b16_c2_ep5_batch4_4.yaml',
           f'{MMPL} scripts/vpt/xd_train_vpt.sh; fp32: {MMPL} trainers/vpt.py'),
    ('vpt', 'few_shot'):
    Recipe(0.0025, 4, 50, VPT, 'fp32', f'{MMPL} configs/trainers/VPT/vit_b16_c2_ep5_batch4_4.yaml',
           NO_FEW_SHOT),
    ('kgcoop', 'base2novel'):
    Recipe(0.002, 128, 100, KG, 'fp16',
           f'{KGCOOP} configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml',
           f'{KGCOOP} scripts/base2new_train.sh'),
    ('kgcoop', 'cross_dataset'):
    Recipe(0.002, 128, 100, KG, 'fp16',
           f'{KGCOOP} configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml',
           f'{KGCOOP} scripts/xd_train.sh (4 shots)'),
    ('kgcoop', 'few_shot'):
    Recipe(0.002, 128, 100, KG, 'fp16',
           f'{KGCOOP} configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml',
           'the reference ships no few-shot script: its base-to-novel config'),
    ('promptsrc', 'base2novel'):
    Recipe(0.0025, 4, 20, SRC, 'fp16',
           f'{PROMPTSRC} configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml'),
    ('promptsrc', 'cross_dataset'):
    Recipe(
        0.0025, 4, 20, dict(SRC, depth_text=3, depth_vision=3), 'fp16',
        f'{PROMPTSRC} configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx_cross_datasets.yaml'
    ),
    ('promptsrc', 'few_shot'):
    Recipe(0.0025, 4, 50, SRC, 'fp16',
           f'{PROMPTSRC} configs/trainers/PromptSRC/vit_b16_c2_ep50_batch4_4+4ctx_few_shot.yaml'),
}

#: Zero-shot CLIP on other CLIPs (scripts/coop/zeroshot.sh with CFG rn50, rn101, vit_b32):
#: setting -> the yaml's MODEL.BACKBONE.NAME.
ZERO_SHOT_CLIPS = {
    'rn50': ('RN50', f'{COOP} configs/trainers/CoOp/rn50.yaml'),
    'rn101': ('RN101', f'{COOP} configs/trainers/CoOp/rn101.yaml'),
    'vit_b32': ('ViT-B/32', f'{COOP} configs/trainers/CoOp/vit_b32.yaml'),
}


def trained_configs():
    """(recipe key, dataset, path) of every trained config: the key is (folder, protocol) or,
    on another CLIP, (folder, protocol, setting)."""
    for folder in METHODS:
        if folder == 'zero_shot_clip':
            continue
        for protocol in ('base2novel', 'few_shot'):
            for dataset in DATASETS:
                yield pytest.param((folder, protocol),
                                   dataset,
                                   CONFIGS / folder / f'{protocol}_{dataset}.py',
                                   id=f'{folder}/{protocol}_{dataset}')
        for name in ('cross_dataset', 'domain_generalization'):
            yield pytest.param((folder, 'cross_dataset'),
                               'imagenet',
                               CONFIGS / folder / f'{name}_imagenet.py',
                               id=f'{folder}/{name}_imagenet')
        for path in clip_leaf_configs(folder):
            protocol = protocol_of(path).replace('domain_generalization', 'cross_dataset')
            yield pytest.param((folder, protocol, setting_of(path)),
                               dataset_of(path),
                               path,
                               id=f'{folder}/{path.stem}')


@pytest.mark.parametrize('key,dataset,path', trained_configs())
def test_config_resolves_to_the_reference_recipe(key, dataset, path):
    recipe = RECIPES.get((*key, dataset)) or RECIPES[key]
    cfg = built(path)
    where = f'{path.relative_to(CONFIGS.parent)} vs {recipe.source}'
    assert (cfg.model.backbone.model_name,
            cfg.model.backbone.pretrained) == (OPEN_CLIP_NAMES[recipe.backbone], 'openai'), where
    assert cfg.optim_wrapper.optimizer == dict(DASSL_SGD, lr=recipe.lr), where
    assert cfg.train_dataloader.batch_size == recipe.batch, where
    assert cfg.auto_scale_lr.base_batch_size == recipe.batch, where
    assert cfg.train_cfg.max_epochs == recipe.epochs == cfg.param_scheduler.T_max, where
    assert (cfg.param_scheduler.type, cfg.param_scheduler.warmup_value,
            cfg.param_scheduler.warmup_steps) == ('ConstantWarmupCosineLR', 1e-5, 1), where
    learner = cfg.model.prompt_learner
    assert {k: learner.get(k) for k in recipe.prompts} == recipe.prompts, where
    assert cfg.precision.cuda == recipe.precision and cfg.precision.get('cpu') == 'fp32', where


@pytest.mark.parametrize(
    'path', clip_leaf_configs('zero_shot_clip'), ids=lambda p: f'zero_shot_clip/{p.stem}')
def test_zero_shot_clip_on_other_clips_is_the_reference_backbone(path):
    backbone, source = ZERO_SHOT_CLIPS[setting_of(path)]
    cfg = built(path)
    assert (cfg.model.backbone.model_name,
            cfg.model.backbone.pretrained) == (OPEN_CLIP_NAMES[backbone], 'openai'), source
    assert cfg.train_dataloader is None and cfg.model.prompt_learner.templates == 'dataset'


def test_coop_published_rows_train_4_words_not_16_random_vectors():
    """The CoCoOp / MaPLe papers' CoOp rows: CTX_INIT "a photo of a" (4 tokens)."""
    for name in ('base2novel_dtd', 'base2novel_imagenet', 'cross_dataset_imagenet',
                 'domain_generalization_imagenet'):
        learner = built(CONFIGS / 'coop' / f'{name}.py').model.prompt_learner
        assert (learner.n_ctx, learner.ctx_init) == (4, 'a photo of a'), name
    assert built(CONFIGS / 'coop' / 'base2novel_dtd.py').train_cfg.max_epochs == 200


def test_auto_scale_lr_without_the_recipes_base_batch_is_a_clear_error(tmp_path):
    """A config of one's own without base_batch_size: no silent factor from another batch."""
    from mmengine.config import Config

    from maple_mm.errors import ConfigError
    from ..conftest import load_tool
    assert 'base_batch_size' not in Config.fromfile(CONFIGS / '_base_' /
                                                    'default_runtime.py').auto_scale_lr
    config = tmp_path / 'mine.py'
    config.write_text(f"_base_ = [{str(CONFIGS / '_base_' / 'default_runtime.py')!r}]\n")
    train = load_tool('tools/train.py')
    with pytest.raises(
            ConfigError,
            match=r'--auto-scale-lr: .*mine\.py sets no '
            r'auto_scale_lr\.base_batch_size, the batch its lr is for'):
        train.main([str(config), '--auto-scale-lr', '--work-dir', str(tmp_path / 'w')])
