"""Zero-shot CLIP: its test rows and the tests of zero-shot CLIP alone.

Its parity against the reference (``trainers/zsclip.py``) is in
tests/test_models/test_method_parity.py, shared with the other trainers of
muzairkhattak/multimodal-prompt-learning.
"""
from types import SimpleNamespace

from mmpretrain.registry import DATASETS, MODELS

from maple_mm.engine import ClassNamesHook
from maple_mm.models import TINY_CLIP_CFG
from tests.method_rows import MethodRows, Untrained
from tests.miniature_datasets import write_miniature
from .test_coop import BASELINE_FILES

#: The CoOp family's zero-shot baseline: one hand-written template per dataset.
LEARNER = dict(type='ZeroShotPromptLearner', templates='dataset')
SOURCE = 'muzairkhattak/multimodal-prompt-learning trainers/zsclip.py (ZeroshotCLIP)'

EXPECTED = [
    MethodRows(
        folder='zero_shot_clip',
        recipes={
            'base2novel': Untrained(LEARNER, SOURCE),
            'cross_dataset': Untrained(LEARNER, SOURCE)
        },
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
