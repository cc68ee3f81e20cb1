"""MaPLe as an mmpretrain classifier over a frozen open_clip CLIP."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from maple_mm.errors import CheckpointMismatchError

from .clip import OpenCLIPBackbone
from .efficient_text import TextLayout, encode_class_prompts, supports_efficient_text, text_layout
from .prompt_learner import MaPLePromptLearner, MaPLePrompts
from .prompted import encode_image_with_prompts, encode_text_with_prompts
from .text_feature_cache import TextFeatureCache, autocast_state, tensor_state

PROMPT_PREFIX = 'prompt_learner.'


@MODELS.register_module()
class MaPLe(BaseClassifier):
    """Multi-modal Prompt Learning (Khattak et al., CVPR 2023).

    Logits are ``exp(logit_scale) * cos(image, text)`` between image features
    from the prompted vision tower and text features of one prompt per class
    from the prompted text tower. Only the prompt learner is trained, so the
    state dict holds only its parameters; the frozen CLIP is rebuilt from the
    config.

    Args:
        backbone: Config of the frozen CLIP (:class:`OpenCLIPBackbone`).
        prompt_learner: Config of :class:`MaPLePromptLearner` (without ``clip``).
        class_names: Optional initial class names; normally the
            ``ClassNamesHook`` sets them from each dataset's metainfo.
        data_preprocessor: mmpretrain data preprocessor config.
        efficient: Skip the work that cannot change the result (True, the
            default): text positions after the EOT tokens, repeats of the
            prefix shared by all class prompts, rows of the last blocks that are
            not pooled; without gradients, text features are computed once per
            class set and prompts and reused. False runs all 77 text positions
            for every class at every forward, as the reference code does: the
            numerical reference. Both agree up to float rounding.
        text_chunk_size: Without gradients, encode at most this many classes
            at once (bounds memory for large class sets).
    """

    def __init__(self,
                 backbone: dict,
                 prompt_learner: dict,
                 class_names: Optional[Sequence[str]] = None,
                 data_preprocessor: Optional[dict] = None,
                 efficient: bool = True,
                 text_chunk_size: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClsDataPreprocessor')
        super().__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.backbone: OpenCLIPBackbone = MODELS.build(backbone)
        self.prompt_learner: MaPLePromptLearner = MODELS.build(
            dict(prompt_learner, clip=self.backbone)
            if isinstance(prompt_learner, dict) else prompt_learner)
        self.efficient = efficient
        self.text_chunk_size = text_chunk_size
        self.text_cache = TextFeatureCache()
        self._text_layout: Optional[Tuple[tuple, TextLayout]] = None  # (key, layout)
        if class_names:
            self.set_class_names(class_names)
        self.register_state_dict_post_hook(_drop_frozen_weights)
        self.register_load_state_dict_pre_hook(_check_prompt_shapes)
        self.register_load_state_dict_post_hook(_ignore_missing_frozen_weights)

    # -- classes ---------------------------------------------------------------
    @property
    def class_names(self) -> List[str]:
        return self.prompt_learner.class_names

    def set_class_names(self, class_names: Sequence[str]) -> None:
        """Use ``class_names`` for every following forward (any number of classes)."""
        if list(class_names) != self.prompt_learner.class_names:
            self.prompt_learner.set_class_names(class_names, self.backbone)

    # -- features --------------------------------------------------------------
    def text_features(self, prompts: MaPLePrompts) -> torch.Tensor:
        """L2-normalised (C, embed_dim) features of the current class prompts."""
        learner, clip = self.prompt_learner, self.backbone.clip
        if self.efficient and supports_efficient_text(clip):
            learner.require_class_names()
            chunk = None if torch.is_grad_enabled() else self.text_chunk_size
            features = encode_class_prompts(clip, learner.prefix_embeddings[0],
                                            prompts.text_ctx, learner.suffix_embeddings,
                                            learner.token_ids, prompts.deep_text, chunk,
                                            self._current_text_layout())
        else:
            embeddings = learner.class_prompt_embeddings(prompts.text_ctx)
            features = encode_text_with_prompts(clip, embeddings, learner.token_ids,
                                                prompts.deep_text)
        return F.normalize(features, dim=-1)

    def _current_text_layout(self) -> TextLayout:
        """The text layout of the current class set, computed once per set and device.

        Computing it reads token ids back to the host, which would stall a GPU
        at every training step.
        """
        learner = self.prompt_learner
        key = (tuple(learner.class_names), learner.token_ids.device)
        if self._text_layout is None or self._text_layout[0] != key:
            layout = text_layout(self.backbone.clip, learner.token_ids, learner.n_ctx)
            self._text_layout = (key, layout)
        return self._text_layout[1]

    def train(self, mode: bool = True) -> 'MaPLe':
        """Switch mode; cached text features are dropped at every switch.

        mmengine's loops switch modes around every phase, and weights can change
        without bumping version counters in between (fused optimizer steps,
        EMA swaps through ``param.data``), so no cached features outlive a phase.
        """
        self.text_cache.clear()
        return super().train(mode)

    def current_text_features(self, prompts: MaPLePrompts) -> torch.Tensor:
        """:meth:`text_features`, reused between calls when nothing needs gradients.

        ``prompts`` must be ``prompt_learner()`` of the current parameters.
        The cache is keyed on the class names, the storage and version counter
        of every prompt-learner parameter and buffer (in-place optimizer steps
        bump them) and the autocast state, and is cleared by :meth:`train` /
        ``eval()`` and ``load_state_dict``. Writes through ``param.data`` or
        fused optimizers bypass version counters: call ``text_cache.clear()``
        (or ``eval()``) after those outside mmengine's loops.
        """
        if not self.efficient or torch.is_grad_enabled():
            return self.text_features(prompts)
        device = self.prompt_learner.ctx.device
        key = (tuple(self.class_names), tensor_state(self.prompt_learner),
               autocast_state(device.type))
        return self.text_cache.get(key, lambda: self.text_features(prompts))

    def image_features(self, images: torch.Tensor, prompts: MaPLePrompts) -> torch.Tensor:
        """L2-normalised (B, embed_dim) features of prompted images."""
        features = encode_image_with_prompts(self.backbone.clip, images, prompts.vision_ctx,
                                             prompts.deep_vision, efficient=self.efficient)
        return F.normalize(features, dim=-1)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Prompted image features (B, embed_dim)."""
        return self.image_features(inputs, self.prompt_learner())

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, C) cosine logits scaled by CLIP's frozen temperature."""
        prompts = self.prompt_learner()
        text = self.current_text_features(prompts)
        image = self.image_features(inputs, prompts)
        return self.backbone.logit_scale * image @ text.t()

    # -- mmengine interface ----------------------------------------------------
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Cross-entropy over the current classes."""
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        return dict(loss=F.cross_entropy(self.logits(inputs), labels))

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Scores and labels over the current classes."""
        scores = F.softmax(self.logits(inputs), dim=1)
        labels = scores.argmax(dim=1, keepdim=True).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples


def _check_prompt_shapes(model: MaPLe, state_dict, prefix, *args) -> None:
    """Load pre-hook: turn a wrong or foreign checkpoint into one clear error."""
    # Exactly what the state-dict hook keeps, without walking the frozen CLIP.
    own = model.prompt_learner.state_dict(prefix=PROMPT_PREFIX)
    present = [k for k in own if prefix + k in state_dict]
    if not present:
        if any(k.startswith('prompt_learner.compound_prompts_text') for k in state_dict):
            hint = ('it looks like a checkpoint of the reference MaPLe code: convert it '
                    'with tools/model_converters/maple_official_to_mm.py')
        else:
            hint = 'it is not a maple_mm checkpoint'
        raise CheckpointMismatchError(f'The checkpoint holds none of the MaPLe prompt '
                                      f'weights ({", ".join(list(own)[:3])}, ...): {hint}.')
    missing = [k for k in own if prefix + k not in state_dict]
    wrong = [f'{k}: checkpoint {tuple(state_dict[prefix + k].shape)} vs model '
             f'{tuple(v.shape)}' for k, v in own.items()
             if prefix + k in state_dict and state_dict[prefix + k].shape != v.shape]
    if missing or wrong:
        learner = model.prompt_learner
        raise CheckpointMismatchError(
            'The checkpoint does not fit the model built from this config '
            f'(n_ctx={learner.n_ctx}, depth={learner.depth}, '
            f'CLIP {model.backbone.model_name}). '
            + (f'Missing: {missing[:4]}. ' if missing else '')
            + (f'Shape mismatch: {wrong[:4]}. ' if wrong else '')
            + 'Use the config the checkpoint was trained with.')


def _drop_frozen_weights(module, state_dict, prefix, local_metadata) -> None:
    """State-dict post-hook: keep the trained prompts, drop the frozen CLIP."""
    for key in [k for k in state_dict if k.startswith(prefix) and
                not k[len(prefix):].startswith(PROMPT_PREFIX)]:
        del state_dict[key]


def _ignore_missing_frozen_weights(module: MaPLe, incompatible_keys) -> None:
    """Load post-hook: the frozen CLIP is rebuilt from the config, not loaded.

    Also drops cached text features: the loaded prompts replace the old ones.
    """
    module.text_cache.clear()
    frozen = [k for k in incompatible_keys.missing_keys if not k.startswith(PROMPT_PREFIX)]
    for key in frozen:
        incompatible_keys.missing_keys.remove(key)
