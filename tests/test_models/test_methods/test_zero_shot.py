"""Zero-shot CLIP: its test rows and the tests of zero-shot CLIP alone.

Its parity against the reference (``trainers/zsclip.py``) is in
tests/test_models/test_method_parity.py, shared with the other trainers of
muzairkhattak/multimodal-prompt-learning.
"""
from types import SimpleNamespace

from mmpretrain.registry import DATASETS, MODELS

from maple_mm.engine import ClassNamesHook
from maple_mm.models import TINY_CLIP_CFG
from tests.method_rows import ClipRecipes, MethodRows, Untrained
from tests.miniature_datasets import write_miniature
from .test_coop import BASELINE_FILES

#: The CoOp family's zero-shot baseline: one hand-written template per dataset.
LEARNER = dict(type='ZeroShotPromptLearner', templates='dataset')
SOURCE = 'muzairkhattak/multimodal-prompt-learning trainers/zsclip.py (ZeroshotCLIP)'


def on(yaml: str) -> Untrained:
    """Zero-shot CLIP as scripts/coop/zeroshot.sh of KaiyangZhou/CoOp runs it with ``yaml``
    (configs/trainers/CoOp/<yaml>.yaml: its MODEL.BACKBONE.NAME)."""
    return Untrained(
        LEARNER, f'KaiyangZhou/CoOp scripts/coop/zeroshot.sh with '
        f'configs/trainers/CoOp/{yaml}.yaml')


#: The CoOp paper's zero-shot baselines on other CLIPs: its Table 1 (ImageNet and its
#: variants) on RN50, RN101 and ViT-B/32, and its few-shot figure's on RN50 (every dataset).
OTHER_CLIPS = {
    'rn50': ClipRecipes('RN50', {
        'cross_dataset': on('rn50'),
        'domain_generalization': on('rn50')
    }),
    'rn101': ClipRecipes('RN101', {'domain_generalization': on('rn101')}),
    'vit_b32': ClipRecipes('ViT-B-32', {'domain_generalization': on('vit_b32')}),
}

EXPECTED = [
    MethodRows(
        folder='zero_shot_clip',
        recipes={
            'base2novel': Untrained(LEARNER, SOURCE),
            'cross_dataset': Untrained(LEARNER, SOURCE)
        },
        other_clips=OTHER_CLIPS,
        published_average=(69.34, 74.22, 71.70),
        published_source='Table 1 of the MaPLe paper (the CLIP row)',
        files=BASELINE_FILES),
]


def test_class_names_hook_gives_the_template_of_the_dataset(tmp_path):
    folder = write_miniature(tmp_path, 'dtd')
    dataset = DATASETS.build(
        dict(type='CoOpDTD', data_root=str(folder), split='test', serialize_data=False))
    model = MODELS.build(
        dict(type='ZeroShotCLIP', backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)))
    runner = SimpleNamespace(
        model=model, test_loop=SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset)))
    ClassNamesHook().before_test_epoch(runner)
    assert model.class_names == list(dataset.metainfo['classes'])
    assert model.prompt_learner.current_templates() == ['{} texture.']
