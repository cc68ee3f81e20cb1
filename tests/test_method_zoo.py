"""The zoo in mmpretrain's model index: every config is a model name that mmpretrain's
list_models lists and get_model builds (importing maple_mm registers model-index.yml)."""
import pytest
import yaml
from mmpretrain import get_model, list_models

from maple_mm import method_zoo
from maple_mm.method_zoo import MODEL_INDEX
from maple_mm.models import TINY_CLIP_CFG, MaPLe
from .conftest import REPO_ROOT
from .test_configs.zoo import CONFIGS, DEMOS, all_leaf_configs


def test_every_config_of_the_zoo_is_listed_once():
    models = yaml.safe_load(MODEL_INDEX.read_text())['Models']
    configs = sorted(model['Config'] for model in models)
    test_time = [p for f in method_zoo.test_time_folders() for p in (CONFIGS / f).glob('*.py')]
    assert configs == sorted(
        str(p.relative_to(REPO_ROOT)) for p in [*all_leaf_configs(), *DEMOS, *test_time])
    listed = set(list_models())
    assert {model['Name'].lower() for model in models} <= listed
    assert 'maple_vit-b16_base2novel_dtd' in list_models('*maple*')


@pytest.mark.parametrize('name,config', [
    ('maple_vit-b16_base2novel_dtd', 'base2novel_dtd.py'),
    ('maple_vit-b16_cross-dataset_imagenet', 'cross_dataset_imagenet.py'),
])
def test_get_model_builds_a_zoo_model_by_its_name(name, config):
    """On the tiny CLIP (the zoo's name would download OpenAI's ViT-B/16 weights)."""
    model = get_model(
        name,
        pretrained=False,
        backbone=dict(pretrained=None, model_cfg=TINY_CLIP_CFG),
        prompt_learner=dict(depth=3))
    assert isinstance(model, MaPLe)
    assert model._config.filename.endswith(f'configs/maple/{config}')
    # The config's top-level data_preprocessor: CLIP's normalisation.
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(
        [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255])
