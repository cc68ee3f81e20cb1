"""One mmpretrain classifier for every prompting method over a frozen open_clip CLIP."""
import logging
import warnings
from types import SimpleNamespace
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from maple_mm.checkpoints.reference_layout import ReferenceLayout, looks_like_reference
from maple_mm.class_names import (EXTRA_STATE, check_class_names, decode_class_names,
                                  encode_class_names)
from maple_mm.errors import CheckpointMismatchError, CLIPBuildError, SlowPathWarning
from maple_mm.provenance import RecordsItsWriter
from .class_prompts import ClassPrompts, splice_context
from .clip import OpenCLIPBackbone, vision_token_problem
from .fast.text import (TextLayout, encode_class_prompts, fast_path_fallbacks, supports_fast_text,
                        text_layout)
from .fast.text_cache import TextFeatureCache, autocast_state, tensor_state
from .prompt_learner import PromptLearner, Prompts
from .towers import encode_image, encode_text
from .update_rule import loss_terms, owns_update

LEARNER_PREFIX = 'prompt_learner.'
#: mmpretrain model-zoo metadata of a model built from a config: its task.
_IMAGE_CLASSIFICATION = SimpleNamespace(results=[SimpleNamespace(task='Image Classification')])
CONVERT_HINT = 'convert it with tools/model_converters/reference_to_mm.py'


class PromptedFeatures(NamedTuple):
    """What a forward with the learned prompts computes; a method's objective reads it."""

    #: (B, C) cosine logits scaled by CLIP's frozen temperature.
    logits: torch.Tensor
    #: (B, embed_dim) L2-normalised image features (with the vision prompts).
    image: torch.Tensor
    #: (C, embed_dim), or (B, C, embed_dim) for an image-conditional method:
    #: L2-normalised text features of the current class prompts.
    text: torch.Tensor


@MODELS.register_module()
class PromptedCLIP(BaseClassifier, RecordsItsWriter):
    """CLIP classification with the prompts of a :class:`PromptLearner`.

    Logits are ``exp(logit_scale) * cos(image, text)``: image features from the
    vision tower (with the learner's vision prompts), text features of one
    prompt per class (with its text context and deep text prompts). An
    image-conditional learner (CoCoOp) gets the plain image features and
    returns a text context per image. The training objective is the method's
    (:meth:`objective`, cross-entropy by default): it reads the prompted
    features and, where it asks, the frozen CLIP's (:meth:`frozen_image_features`,
    :meth:`frozen_text_features`). mmengine descends the sum of its terms, unless
    the method owns its update: it then defines ``combine_gradients(grads,
    params)``, which combines one gradient per term (:mod:`.update_rule`). Only
    the learner is trained: the state dict holds its parameters and the class
    names; the frozen CLIP is rebuilt from the config. Each method is a subclass naming its learner
    (:mod:`maple_mm.models.methods`).

    Args:
        backbone: Config of the frozen CLIP (:class:`OpenCLIPBackbone`).
        prompt_learner: Config of the prompt learner (without ``clip``); its
            ``type`` defaults to the method's learner.
        class_names: Optional initial class names; normally the
            ``ClassNamesHook`` sets them from each dataset's metainfo.
        data_preprocessor: mmpretrain data preprocessor config.
        efficient: Use the exact shortcuts of :mod:`maple_mm.models.fast` (True,
            the default): text runs only up to each EOT, the prefix shared by
            all class prompts runs once, the last blocks compute only the pooled
            rows, attention uses batch-first projections over open_clip's block
            weights, and text features that cannot change are reused between
            batches. False runs open_clip's blocks on all 77 text positions of
            every prompt at every forward, as the reference code does: the
            numerical reference. Both agree up to float rounding.
        text_chunk_size: Without gradients, encode at most this many prompts
            at once (bounds memory for large class sets).
    """

    #: The registered prompt learner type a method's ``prompt_learner`` defaults to.
    default_learner: str = ''
    #: The checkpoints of the method's reference code, for the converter (None: it has none).
    reference_layout: Optional[ReferenceLayout] = None

    def __init__(self,
                 backbone: dict,
                 prompt_learner: Optional[dict] = None,
                 class_names: Optional[Sequence[str]] = None,
                 data_preprocessor: Optional[dict] = None,
                 efficient: bool = True,
                 text_chunk_size: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None or isinstance(data_preprocessor, dict):
            # As mmpretrain's ImageClassifier: a config's top-level data_preprocessor
            # (mmpretrain's dataset configs) reaches the model without a type.
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        super().__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.backbone: OpenCLIPBackbone = MODELS.build(backbone)
        if isinstance(prompt_learner, PromptLearner):
            check_image_tower(self.backbone, type(prompt_learner), type(self).__name__)
            self.prompt_learner = prompt_learner
        else:
            learner_cfg = dict(prompt_learner or {})
            learner_cfg.setdefault('type', self.default_learner)
            check_image_tower(self.backbone, MODELS.get(learner_cfg['type']), type(self).__name__)
            self.prompt_learner: PromptLearner = MODELS.build(dict(learner_cfg, clip=self.backbone))
        self.efficient = efficient
        fallbacks = fast_path_fallbacks(self.backbone.clip) if efficient else []
        if fallbacks:
            import open_clip
            warnings.warn(
                f'{type(self).__name__} runs without the fast paths for {"; ".join(fallbacks)}: '
                f"open_clip's blocks run on every position (same results, 3-10x slower). "
                f'maple_mm is tested with the open_clip_torch of requirements.txt; this is '
                f'{open_clip.__version__}.',
                SlowPathWarning,
                stacklevel=2)
        self.text_chunk_size = text_chunk_size
        self.text_cache = TextFeatureCache()
        #: The frozen CLIP's text features of the learner's frozen prompt sets.
        self.frozen_text_cache = TextFeatureCache()
        self._layouts: Dict[tuple, TextLayout] = {}
        if class_names:
            self.set_class_names(class_names)
        self.register_state_dict_post_hook(_drop_frozen_weights)
        self.register_load_state_dict_pre_hook(_check_learner_shapes)
        self.register_load_state_dict_post_hook(_ignore_missing_frozen_weights)

    # -- classes ---------------------------------------------------------------------
    @property
    def class_names(self) -> List[str]:
        """The current class names (the list the prompts were built from)."""
        return self.prompt_learner.class_names

    def set_class_names(self,
                        class_names: Sequence[str],
                        dataset_meta: Optional[dict] = None) -> None:
        """Use ``class_names`` for every following forward (any number of classes).

        ``dataset_meta`` (the dataset's metainfo) lets a method take what it
        needs from the dataset, e.g. zero-shot CLIP its prompt template.
        """
        check_class_names(class_names, 'The class list')
        reconfigured = self.prompt_learner.configure_for_dataset(dataset_meta or {})
        if reconfigured or list(class_names) != self.class_names:
            self.prompt_learner.set_class_names(class_names, self.backbone)
            self._layouts.clear()
            self.text_cache.clear()
            self.frozen_text_cache.clear()

    @property
    def _dataset_meta(self) -> dict:
        """mmpretrain's APIs read and write class names here (``get_model``, inferencers)."""
        return {'classes': self.class_names}

    @_dataset_meta.setter
    def _dataset_meta(self, meta: dict) -> None:
        names = list((meta or {}).get('classes') or [])
        if not names:
            return
        saved = self.__dict__.get('_loaded_class_names')  # set when a state dict was loaded
        if saved is not None and names != saved:  # mmpretrain's get_model: meta wins
            saved = (f'instead of the {len(saved)} saved with the prompts'
                     if saved else 'as none are saved with the prompts (_extra_state is empty)')
            shown = ', '.join(map(str, names[:5])) + (', ...' if len(names) > 5 else '')
            print_log(
                f'Using the {len(names)} class names of the checkpoint\'s '
                f'meta.dataset_meta ({shown}) {saved}.',
                logger='current',
                level=logging.WARNING)
        self.set_class_names(names, dataset_meta=meta)

    @property
    def _metainfo(self):
        """What mmpretrain's ``inference_model`` reads to pick its inferencer."""
        return self.__dict__.get('_zoo_metainfo') or _IMAGE_CLASSIFICATION

    @_metainfo.setter
    def _metainfo(self, metainfo) -> None:
        self.__dict__['_zoo_metainfo'] = metainfo  # a model-zoo entry, or None

    def get_extra_state(self) -> torch.Tensor:
        """Saved with the weights: the class names the prompts were built for.

        Stored as the UTF-8 bytes of a JSON list in a uint8 tensor, because
        tools that treat a state dict as tensors (mmengine broadcasts it
        between processes) must keep working.
        """
        return encode_class_names(self.class_names)

    def set_extra_state(self, state: torch.Tensor) -> None:
        names = decode_class_names(state)
        self.__dict__['_loaded_class_names'] = names
        if names:
            self.set_class_names(names)

    # -- features --------------------------------------------------------------------
    def _layout(self, prompts: ClassPrompts, ctx_shared: bool) -> TextLayout:
        """The text layout of one prompt set, computed once per prompt set.

        Computing it reads token ids back to the host, which would stall a GPU
        at every training step. Keyed on the prompt set's own key (its token
        ids and context slots), so two prompt sets never share a layout.
        """
        key = (prompts.key, prompts.token_ids.device, ctx_shared)
        if key not in self._layouts:
            self._layouts[key] = text_layout(self.backbone.clip, prompts.token_ids,
                                             prompts.ctx_positions, ctx_shared)
        return self._layouts[key]

    def encode_prompt_set(self, class_prompts: ClassPrompts, prompts: Prompts) -> torch.Tensor:
        """(P, C, embed_dim) un-normalised features of one prompt set with ``prompts``.

        P = 1, or one row per image's text context (image-conditional methods).
        """
        clip, ctx = self.backbone.clip, prompts.text_ctx
        per_image = ctx is not None and self.prompt_learner.image_conditional
        embeddings, positions = class_prompts.embeddings, class_prompts.ctx_positions
        if embeddings is None:  # a rarely encoded set (frozen templates): embedded now
            embeddings = self.backbone.embed_tokens(class_prompts.token_ids)
        if self.efficient and supports_fast_text(clip):
            shared = ctx is None or ctx.dim() == 2 or per_image
            layout = self._layout(class_prompts, shared)
            start = layout.shared_len
            if per_image and int(positions.max()) < start:
                first = embeddings[:1, :start].expand(ctx.shape[0], -1, -1)
                prefix = splice_context(first, positions[:1].expand(ctx.shape[0], -1), ctx)
            elif not per_image:
                if ctx is not None:
                    embeddings = splice_context(embeddings, positions, ctx)
                prefix = embeddings[:1, :start]
            else:
                prefix = None
            if prefix is not None:
                chunk = None if torch.is_grad_enabled() else self.text_chunk_size
                tails = embeddings[:, start:max(layout.lengths)]
                return encode_class_prompts(clip, prefix, tails, layout, prompts.deep_text, chunk)
        ids = class_prompts.token_ids
        if per_image:  # the reference: every image's prompts for every class
            return torch.stack([
                encode_text(clip, splice_context(embeddings, positions, c), ids, prompts.deep_text)
                for c in ctx
            ])
        if ctx is not None:
            embeddings = splice_context(embeddings, positions, ctx)
        return encode_text(clip, embeddings, ids, prompts.deep_text).unsqueeze(0)

    def text_features(self, prompts: Prompts) -> torch.Tensor:
        """L2-normalised text features of the current class prompts.

        (C, embed_dim), or (B, C, embed_dim) for an image-conditional learner.
        Several prompt templates per class are averaged (normalised, averaged,
        normalised again), as CLIP's prompt ensembles are.
        """
        self.prompt_learner.require_class_names()
        features = [
            F.normalize(self.encode_prompt_set(p, prompts), dim=-1)
            for p in self.prompt_learner.class_prompts
        ]
        features = features[0] if len(features) == 1 else \
            F.normalize(torch.stack(features).mean(dim=0), dim=-1)
        return features if self.prompt_learner.image_conditional else features[0]

    def current_text_features(self, prompts: Prompts) -> torch.Tensor:
        """:meth:`text_features`, reused between calls while nothing they depend on changes.

        Text that no learned tensor reaches (zero-shot, vision-only prompting)
        is computed once per class set, without gradients, in training too.
        Other text features are reused only without gradients: the cache is
        keyed on the class names, the storage and version counter of every
        learner tensor (in-place optimizer steps bump them), the prompt sets'
        keys and the autocast state, and is cleared by :meth:`train` / ``eval()``,
        :meth:`set_class_names` and ``load_state_dict``. Writes through
        ``param.data`` or fused optimizers bypass version counters: call
        ``text_cache.clear()`` (or ``eval()``) after those outside mmengine's loops.
        """
        fixed = prompts.text_ctx is None and not prompts.deep_text
        if not self.efficient or (torch.is_grad_enabled() and not fixed):
            return self.text_features(prompts)
        device = self.backbone.clip.token_embedding.weight.device
        state = () if fixed else tensor_state(self.prompt_learner)
        key = (tuple(self.class_names), _set_keys(self.prompt_learner.class_prompts), state,
               autocast_state(device.type))
        with torch.no_grad():
            return self.text_cache.get(key, lambda: self.text_features(prompts))

    def frozen_text_features(self) -> torch.Tensor:
        """(C, embed_dim) text features of the frozen CLIP for the method's objective.

        The un-normalised features of the learner's frozen prompt sets
        (``prompt_learner.frozen_prompts``, one per template) are averaged,
        then L2-normalised. They depend only on the class names: computed once
        per class set (by the current computation path), without gradients,
        keyed on the prompt sets' token ids; ``frozen_text_cache.clear()``
        recomputes them. Always in fp32, also inside the optimizer's fp16 / bf16
        autocast: PromptSRC's reference computes its teacher with the CLIP cast to
        fp32 (``trainers/promptsrc.py``, ``load_clip_to_cpu(cfg, True).float()``);
        KgCoOp's in fp16, which fp32 is at least as precise as. Once per class
        set, fp32 costs nothing per step.
        """
        sets = self.prompt_learner.frozen_prompts
        if not sets:
            raise RuntimeError(f'{type(self.prompt_learner).__name__} builds no frozen prompts.')
        device = self.backbone.clip.token_embedding.weight.device
        key = (_set_keys(sets), device)

        def compute() -> torch.Tensor:
            with torch.autocast(device.type, enabled=False):
                total = sum(self.encode_prompt_set(p, Prompts())[0].float() for p in sets)
                return F.normalize(total / len(sets), dim=-1)

        with torch.no_grad():
            return self.frozen_text_cache.get(key, compute)

    def image_features(self,
                       images: torch.Tensor,
                       prompts: Prompts,
                       block_inputs: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
        """L2-normalised (B, embed_dim) features of (prompted) images.

        ``block_inputs``, a list, receives each vision block's input (B, L, width).
        """
        self.backbone.check_image_size(images)
        features = encode_image(
            self.backbone.clip,
            images,
            prompts.vision_ctx,
            prompts.deep_vision,
            efficient=self.efficient,
            block_inputs=block_inputs)
        return F.normalize(features, dim=-1)

    def frozen_image_features(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised (B, embed_dim) features of the prompt-free image tower (no gradients)."""
        with torch.no_grad():
            return self.image_features(images, Prompts())

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Image features (B, embed_dim) as the logits see them."""
        learner = self.prompt_learner
        return self.image_features(inputs, Prompts() if learner.image_conditional else learner())

    def prompted_features(self, inputs: torch.Tensor) -> PromptedFeatures:
        """Logits with the image and text features they are computed from."""
        learner, scale = self.prompt_learner, self.backbone.logit_scale
        if learner.image_conditional:
            image = self.image_features(inputs, Prompts())
            text = self.text_features(learner(image))
            return PromptedFeatures(scale * torch.einsum('be,bce->bc', image, text), image, text)
        prompts = learner()
        text = self.current_text_features(prompts)
        image = self.image_features(inputs, prompts)
        return PromptedFeatures(scale * image @ text.t(), image, text)

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, C) cosine logits scaled by CLIP's frozen temperature."""
        return self.prompted_features(inputs).logits

    def train(self, mode: bool = True) -> 'PromptedCLIP':
        """Switch mode; cached text features are dropped at every switch.

        mmengine's loops switch modes around every phase, and weights can change
        without bumping version counters in between (fused optimizer steps,
        EMA swaps through ``param.data``), so no cached features outlive a phase.
        """
        self.text_cache.clear()
        return super().train(mode)

    # -- mmengine interface ------------------------------------------------------------
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
        """The method's loss terms on a batch (:meth:`objective`)."""
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        return self.objective(inputs, self.prompted_features(inputs), labels)

    def objective(self, inputs: torch.Tensor, features: PromptedFeatures,
                  labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The training loss terms, one key per term (mmengine sums the keys holding 'loss').

        Cross-entropy over the current classes; a method with its own
        objective overrides this, reading ``features`` and, where it needs
        them, :meth:`frozen_image_features` of ``inputs`` and
        :meth:`frozen_text_features`.
        """
        return dict(loss=F.cross_entropy(features.logits, labels))

    def parse_losses(self, losses: Dict[str, torch.Tensor]):
        """mmengine's: the sum of the keys holding 'loss', and every term logged.

        A method that owns its update (defines ``combine_gradients(grads, params)``,
        :mod:`maple_mm.models.update_rule`) returns the sum as a
        :class:`~maple_mm.models.update_rule.LossTerms` carrying each term for its
        optimizer wrapper; its logged ``loss`` is the same sum.
        """
        parsed, log_vars = super().parse_losses(losses)
        if owns_update(self):
            parsed = loss_terms(losses, parsed, log_vars, self.combine_gradients)
        return parsed, log_vars

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Scores and labels over the current classes."""
        return predictions(self.logits(inputs), data_samples)


def predictions(logits: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
    """mmpretrain's predictions of (B, C) logits: softmax scores and the top label."""
    scores = F.softmax(logits, dim=1)
    labels = scores.argmax(dim=1, keepdim=True).detach()
    if data_samples is None:
        data_samples = [DataSample() for _ in range(logits.shape[0])]
    for sample, score, label in zip(data_samples, scores, labels):
        sample.set_pred_score(score).set_pred_label(label)
    return data_samples


def text_only_methods() -> List[str]:
    """The registered methods whose learner adds no vision prompt tokens, by name.

    They run on any open_clip CLIP, ResNet image towers included; read from the
    registry, so a method added later is listed as soon as it is registered.
    """
    methods = []
    for name, cls in MODELS.module_dict.items():
        if isinstance(cls, type) and issubclass(cls, PromptedCLIP) and cls.default_learner:
            learner = MODELS.get(cls.default_learner)
            if learner is not None and not learner.vision_prompts:
                methods.append(name)
    return sorted(methods)


def check_image_tower(backbone: OpenCLIPBackbone, learner: Optional[type], method: str) -> None:
    """The one check of a method against the CLIP's image tower, before its learner is built.

    A learner that adds vision prompt tokens (``vision_prompts``) needs a Vision
    Transformer; on a ModifiedResNet (RN50 ...) it is refused in one line that
    names the methods that do run there.
    """
    if learner is None or not getattr(learner, 'vision_prompts', False):
        return
    problem = vision_token_problem(backbone.clip, backbone.model_name)
    if problem:
        raise CLIPBuildError(
            f'{method} adds prompt tokens to the image tower, but {problem}. Use a ViT CLIP '
            f'such as ViT-B-16, or a method that prompts only the text, which runs on any '
            f'CLIP: {", ".join(text_only_methods())}.')


def _set_keys(sets: Sequence[ClassPrompts]) -> tuple:
    return tuple(p.key for p in sets)


def _own_keys(model: PromptedCLIP) -> Dict[str, torch.Tensor]:
    """What the state-dict hook keeps, without walking the frozen CLIP."""
    return model.prompt_learner.state_dict(prefix=LEARNER_PREFIX)


def _check_learner_shapes(model: PromptedCLIP, state_dict, prefix, *args) -> None:
    """Load pre-hook: turn a wrong or foreign checkpoint into one clear error."""
    own = _own_keys(model)
    if not own:
        return  # nothing learned (zero-shot): any checkpoint only brings class names
    present = [k for k in own if prefix + k in state_dict]
    reference = looks_like_reference([k[len(prefix):] for k in state_dict if k.startswith(prefix)])
    if not present:
        hint = (f'it looks like a checkpoint of the reference code: {CONVERT_HINT}'
                if reference else 'it is not a checkpoint of this method')
        raise CheckpointMismatchError(
            f'The checkpoint holds none of the {type(model).__name__} prompt weights '
            f'({", ".join(list(own)[:3])}, ...): {hint}.')
    missing = [k for k in own if prefix + k not in state_dict]
    wrong = [
        f'{k}: checkpoint {tuple(state_dict[prefix + k].shape)} vs model '
        f'{tuple(v.shape)}' for k, v in own.items()
        if prefix + k in state_dict and state_dict[prefix + k].shape != v.shape
    ]
    if missing or wrong:
        raise CheckpointMismatchError(
            f'The checkpoint does not fit the {type(model).__name__} model built from this '
            f'config ({model.prompt_learner.extra_repr()}, CLIP {model.backbone.model_name}). ' +
            (f'Missing: {missing[:4]}. ' if missing else '') +
            (f'Shape mismatch: {wrong[:4]}. ' if wrong else '') +
            (f'It looks like a checkpoint of the reference code: {CONVERT_HINT}.'
             if reference else 'Use the config the checkpoint was trained with.'))


def _drop_frozen_weights(module, state_dict, prefix, local_metadata) -> None:
    """State-dict post-hook: keep the learned prompts and the class names."""
    for key in [
            k for k in state_dict if k.startswith(prefix)
            and not k[len(prefix):].startswith(LEARNER_PREFIX) and k[len(prefix):] != EXTRA_STATE
    ]:
        del state_dict[key]


def _ignore_missing_frozen_weights(module: PromptedCLIP, incompatible_keys) -> None:
    """Load post-hook: the frozen CLIP is rebuilt from the config, not loaded.

    Class names are optional (older checkpoints have none). Also drops cached
    text features: the loaded prompts replace the old ones.
    """
    module.text_cache.clear()
    frozen = [k for k in incompatible_keys.missing_keys if not k.startswith(LEARNER_PREFIX)]
    for key in frozen:
        incompatible_keys.missing_keys.remove(key)
