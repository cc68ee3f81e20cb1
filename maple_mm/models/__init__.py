"""MaPLe's model pieces: frozen CLIP, prompted towers, prompt learner, classifier."""
from .classifier import CheckpointMismatchError, MaPLe
from .clip import TINY_CLIP_CFG, CLIPBuildError, OpenCLIPBackbone, build_open_clip
from .prompt_learner import MaPLePromptLearner, MaPLePrompts, class_prompt
from .prompted import encode_image_with_prompts, encode_text_with_prompts

__all__ = [
    'MaPLe', 'CheckpointMismatchError', 'OpenCLIPBackbone', 'build_open_clip',
    'TINY_CLIP_CFG', 'CLIPBuildError', 'MaPLePromptLearner', 'MaPLePrompts',
    'class_prompt', 'encode_image_with_prompts', 'encode_text_with_prompts'
]
