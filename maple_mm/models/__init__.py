"""Models: a frozen open_clip CLIP, the prompting core, one classifier, one module per method,
and test-time prompt tuning."""
from .class_prompts import ClassPrompts
from .classifier import PromptedCLIP
from .clip import TINY_CLIP_CFG, OpenCLIPBackbone, build_open_clip
from .methods import (IVLP, VPT, CoCoOp, CoCoOpPromptLearner, CoOp, CoOpPromptLearner,
                      IVLPPromptLearner, KgCoOp, KgCoOpPromptLearner, LanguagePrompting,
                      LanguagePromptLearner, MaPLe, MaPLePromptLearner, PromptSRC,
                      PromptSRCPromptLearner, VPTPromptLearner, ZeroShotCLIP, ZeroShotPromptLearner)
from .prompt_learner import PromptLearner, Prompts
from .test_time import TestTimeTuner
from .towers import encode_image, encode_text

__all__ = [
    'OpenCLIPBackbone', 'build_open_clip', 'TINY_CLIP_CFG', 'PromptedCLIP', 'PromptLearner',
    'Prompts', 'ClassPrompts', 'encode_image', 'encode_text', 'ZeroShotCLIP',
    'ZeroShotPromptLearner', 'CoOp', 'CoOpPromptLearner', 'CoCoOp', 'CoCoOpPromptLearner', 'VPT',
    'VPTPromptLearner', 'IVLP', 'IVLPPromptLearner', 'LanguagePrompting', 'LanguagePromptLearner',
    'MaPLe', 'MaPLePromptLearner', 'KgCoOp', 'KgCoOpPromptLearner', 'PromptSRC',
    'PromptSRCPromptLearner', 'TestTimeTuner'
]
