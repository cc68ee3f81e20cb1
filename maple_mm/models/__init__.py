"""Models: a frozen open_clip CLIP, the prompting core, one classifier, one module per method,
and test-time prompt tuning.

Every method's classifier and prompt learner is exported here too (they are
discovered in :mod:`maple_mm.models.methods`), e.g. ``from maple_mm.models import MaPLe``.
"""
from . import methods
from .class_prompts import ClassPrompts
from .classifier import PromptedCLIP
from .clip import TINY_CLIP_CFG, TINY_RESNET_CLIP_CFG, OpenCLIPBackbone, build_open_clip
from .methods import *  # noqa: F401,F403  every method's classes (discovered)
from .prompt_learner import PromptLearner, Prompts
from .test_time import TestTimeTuner
from .towers import encode_image, encode_text

__all__ = [
    'OpenCLIPBackbone', 'build_open_clip', 'TINY_CLIP_CFG', 'TINY_RESNET_CLIP_CFG', 'PromptedCLIP',
    'PromptLearner', 'Prompts', 'ClassPrompts', 'encode_image', 'encode_text', 'TestTimeTuner',
    *methods.__all__
]
