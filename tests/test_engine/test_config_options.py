"""A config key that its class does not take is found against the class's signature (not by
reading a TypeError's text), and no shipped config or valid option is refused."""
import pytest
from mmengine.config import Config

from maple_mm.engine.runners.config_options import check_known_options, unknown_option
from maple_mm.errors import ConfigError
from ..test_configs.zoo import CONFIGS, DEMOS, all_leaf_configs, built


def test_no_shipped_config_has_an_unknown_option():
    assert [p for p in [*all_leaf_configs(), *DEMOS] if unknown_option(built(p))] == []


@pytest.mark.parametrize('key,found', [
    ('model.prompt_learner.deptth', ('deptth', 'MaPLePromptLearner')),
    ('train_dataloader.dataset.num_shot', ('num_shot', 'CoOpDTD')),
    ('model.backbone.pretrianed', ('pretrianed', 'OpenCLIPBackbone')),
    ('param_scheduler.warmup_val', ('warmup_val', 'ConstantWarmupCosineLR')),
    ('test_cfg.extra_set', ('extra_set', 'MultiSetTestLoop')),
])
def test_a_misspelt_option_names_its_class_and_the_options(key, found):
    cfg = Config.fromfile(str(CONFIGS / 'maple' / 'base2novel_dtd.py'))
    cfg.merge_from_dict({key: 1})
    assert unknown_option(cfg)[:2] == found
    with pytest.raises(
            ConfigError, match=rf"Unknown option '{found[0]}' for {found[1]} .*"
            r'Its options: .+\.'):
        check_known_options(cfg)


def test_options_that_kwargs_pass_elsewhere_are_not_refused():
    """mmengine's EMAHook hands **kwargs to the averaged model; CheckpointHook to the save."""
    cfg = dict(
        custom_hooks=[dict(type='EMAHook', momentum=0.001)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, extra=1)))
    assert unknown_option(cfg) is None
