"""One module per method: what it learns and how it forms the prompts."""
from .cocoop import CoCoOp, CoCoOpPromptLearner
from .coop import CoOp, CoOpPromptLearner
from .ivlp import IVLP, IVLPPromptLearner, LanguagePrompting, LanguagePromptLearner
from .kgcoop import KgCoOp, KgCoOpPromptLearner
from .maple import MaPLe, MaPLePromptLearner
from .prograd import ProGrad, ProGradPromptLearner
from .promptsrc import PromptSRC, PromptSRCPromptLearner
from .vpt import VPT, VPTPromptLearner
from .zero_shot import ZeroShotCLIP, ZeroShotPromptLearner

__all__ = [
    'ZeroShotCLIP', 'ZeroShotPromptLearner', 'CoOp', 'CoOpPromptLearner', 'CoCoOp',
    'CoCoOpPromptLearner', 'VPT', 'VPTPromptLearner', 'IVLP', 'IVLPPromptLearner',
    'LanguagePrompting', 'LanguagePromptLearner', 'MaPLe', 'MaPLePromptLearner', 'KgCoOp',
    'KgCoOpPromptLearner', 'PromptSRC', 'PromptSRCPromptLearner', 'ProGrad', 'ProGradPromptLearner'
]
