"""Test-time prompt tuning of one image: TPT on any prompted CLIP, PromptAlign's alignment term.

Per image (azshue/TPT ``tpt_classification.py:54-84,253-299``; PromptAlign
``trainers/prompt_align.py:671-809``): the tuned tensors go back to their
starting values bit for bit and the optimizer to its empty state; the
original view and its augmented views are scored; the most confident views
(lowest softmax entropy) are kept; AdamW takes a step on the entropy of their
mean softmax (plus, for PromptAlign, the L1 distance of their vision tokens'
statistics to the source's); the original view is then classified with the
tuned prompts. The fp16 loss scale carries over from image to image, as the
reference keeps its ``GradScaler``.
"""
from dataclasses import dataclass, field
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch

from maple_mm.errors import ConfigError
from ..prompt_learner import Prompts
from .objectives import alignment_loss, confident_views, marginal_entropy

#: TPT's optimizer: AdamW, lr 5e-3 (``tc.py:323``), PyTorch's defaults otherwise
#: (betas (0.9, 0.999), eps 1e-8, weight decay 0.01).
TPT_LR, TPT_WEIGHT_DECAY = 5e-3, 0.01
#: The reference's ``GradScaler(init_scale=1000)`` (``tc.py:149``, ``pa.py:640``).
LOSS_SCALE_INIT = 1000.0
#: The tuned tensor of an image-conditional learner (CoCoOp): each image's context.
IMAGE_CONTEXT = 'image_context'


@dataclass
class Alignment:
    """PromptAlign's distribution-alignment term.

    Args:
        mean: (L, T, D) source means of each vision block's input tokens.
        var: (L, T, D) source variances (around those means).
        layers: The blocks aligned (the reference's ``range(FROM, TO - 1)`` = 0, 1).
        weight: The term's weight (the reference's ``DISTR_LOSS_W / (TO - FROM)`` = 100 / 3).
    """

    mean: torch.Tensor
    var: torch.Tensor
    layers: Sequence[int] = (0, 1)
    weight: float = 100.0 / 3


class ImageRecord(NamedTuple):
    """What the last image's tuning computed (tests and diagnostics read it)."""

    #: Indices of the confident views (first step's selection, reused after).
    selected: torch.Tensor
    #: Marginal entropy of the confident views at each step.
    entropy: List[float]
    #: The alignment term before its weight, at each step (empty without alignment).
    alignment: List[float]
    #: Copies of the tuned tensors after the last step (the learner's parameters in
    #: ``named_parameters`` order, or the image's own context).
    tuned: List[torch.Tensor]
    #: Copies of their last gradients (unscaled).
    grads: List[torch.Tensor]


@dataclass
class _Image:
    """One image's tuning state: what is tuned and what does not change with it."""

    tensors: List[torch.Tensor]
    optimizer: torch.optim.Optimizer
    prompts: Callable[[], Prompts]
    image_features: Optional[torch.Tensor] = None
    entropy: List[float] = field(default_factory=list)
    alignment: List[float] = field(default_factory=list)


class TestTimeTuner:
    """Tunes a :class:`~maple_mm.models.PromptedCLIP`'s prompts on each test image.

    Args:
        model: The prompted CLIP (its learner holds the starting prompts: a
            checkpoint's, or its initialisation, e.g. "a photo of a").
        params: Which learner tensors are tuned: ``'all'`` (every learner
            parameter), or names / name prefixes of learner parameters (``['ctx']``).
            An image-conditional learner (CoCoOp) tunes each image's context
            (``ctx + meta_net(image feature)``), as TPT does; ``params`` must then be
            ``'all'`` or ``'image_context'``.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        steps: Optimisation steps per image (the views are selected at the first).
        selection: Fraction of the views kept as confident (``int(V * selection)``).
        alignment: PromptAlign's term, or None for TPT alone.
        loss_scaling: Scale the loss as fp16 autocast needs (a ``GradScaler`` whose
            scale persists across images); the caller runs the tuner under autocast.
        scaler: The ``GradScaler`` to use (and keep) instead of a new one: a loop
            passes one scaler to the tuners of all its sets, as the reference keeps one.
        meta_net_input: CoCoOp only: the meta-net gets the original view's
            ``'normalized'`` feature (as CoCoOp trains and infers), or the
            ``'raw'`` one, as TPT's ``gen_ctx`` feeds it (spec Q2).

    The model's ``efficient`` switch picks the computation: True (the default)
    encodes the views once per image where their features do not depend on the
    tuned tensors (text-only prompting) and otherwise scores all views without
    gradients and back-propagates through the confident ones only, and uses the
    fast text paths; False runs the reference loop's computation (every view
    through the encoders with gradients at every step, the original view
    encoded again to predict). Both give the same selections, losses, steps and
    logits up to float rounding.
    """

    def __init__(self,
                 model,
                 params: Union[str, Sequence[str]] = 'all',
                 lr: float = TPT_LR,
                 weight_decay: float = TPT_WEIGHT_DECAY,
                 steps: int = 1,
                 selection: float = 0.1,
                 alignment: Optional[Alignment] = None,
                 loss_scaling: bool = False,
                 meta_net_input: str = 'normalized',
                 scaler: Optional[torch.amp.GradScaler] = None) -> None:
        if steps < 1:
            raise ConfigError(f'Test-time tuning needs steps >= 1, got {steps}.')
        if not 0 < selection <= 1:
            raise ConfigError(f'selection must be in (0, 1], got {selection}.')
        if meta_net_input not in ('normalized', 'raw'):
            raise ConfigError(
                f"meta_net_input must be 'normalized' or 'raw', got {meta_net_input!r}.")
        self.model, self.learner = model, model.prompt_learner
        self.lr, self.weight_decay, self.steps, self.selection = lr, weight_decay, steps, selection
        self.alignment, self.meta_net_input = alignment, meta_net_input
        self.conditional = bool(self.learner.image_conditional)
        self.names = self._tuned_names(params)
        named = dict(self.learner.named_parameters())
        self.params = [named[n] for n in self.names]
        self._grad_flags = {n: p.requires_grad for n, p in named.items()}
        for name, param in named.items():
            param.requires_grad_(name in self.names)
        self.initial = [p.detach().clone() for p in self.params]
        self.optimizer = self._optimizer(self.params) if self.params else None
        self._empty_state = self.optimizer.state_dict() if self.optimizer else None
        device_type = model.backbone.clip.token_embedding.weight.device.type
        self.scaler = scaler or torch.amp.GradScaler(
            device_type, init_scale=LOSS_SCALE_INIT, enabled=loss_scaling)
        self.vision_prompted = self._prompts_reach_images()
        if alignment is not None:
            self._check_alignment(alignment)
        self.last: Optional[ImageRecord] = None

    # -- set-up ----------------------------------------------------------------------
    def _tuned_names(self, params) -> List[str]:
        names = [n for n, _ in self.learner.named_parameters()]
        if self.conditional:
            if params not in ('all', IMAGE_CONTEXT):
                raise ConfigError(
                    f'{type(self.learner).__name__} conditions its context on each image: '
                    f"test-time tuning tunes that context (params='{IMAGE_CONTEXT}', as TPT "
                    f'tunes a conditional context), not {params!r}.')
            return []
        if params == 'all':
            chosen = names
        else:
            wanted = [params] if isinstance(params, str) else list(params)
            unknown = [w for w in wanted if not any(n == w or n.startswith(w + '.') for n in names)]
            if unknown:
                raise ConfigError(
                    f'{type(self.learner).__name__} has no parameter {unknown[0]!r} to tune; its '
                    f'parameters: {", ".join(names) or "none"}.')
            chosen = [n for n in names if any(n == w or n.startswith(w + '.') for w in wanted)]
        if not chosen:
            raise ConfigError(
                f'{type(self.learner).__name__} learns no tensors to tune at test time (for '
                "zero-shot CLIP, tune a context learner started from ctx_init='a photo of a', "
                'as configs/tpt/clip_*.py do).')
        return chosen

    def _optimizer(self, tensors: Sequence[torch.Tensor]) -> torch.optim.Optimizer:
        return torch.optim.AdamW(tensors, lr=self.lr, weight_decay=self.weight_decay)

    def _prompts_reach_images(self) -> bool:
        """Whether the learner's prompts change the image features (vision prompts)."""
        if self.conditional:
            return False
        with torch.no_grad():
            prompts = self.learner()
        return prompts.vision_ctx is not None or bool(prompts.deep_vision)

    def _check_alignment(self, alignment: Alignment) -> None:
        if max(alignment.layers, default=-1) >= alignment.mean.shape[0]:
            raise ConfigError(f'Alignment layers {list(alignment.layers)} need source statistics '
                              f'of that many blocks; they hold {alignment.mean.shape[0]}.')

    # -- per image -------------------------------------------------------------------
    def reset(self) -> None:
        """The tuned tensors back to their starting values (bit for bit), optimizer state empty."""
        with torch.no_grad():
            for param, value in zip(self.params, self.initial):
                param.copy_(value)
        if self.optimizer is not None:
            self.optimizer.load_state_dict(self._empty_state)
            self.optimizer.zero_grad(set_to_none=True)

    def restore(self) -> None:
        """Leave the model as it was given: starting values, the learner's own grad flags."""
        self.reset()
        for name, param in self.learner.named_parameters():
            param.requires_grad_(self._grad_flags.get(name, param.requires_grad))

    def __call__(self, views: torch.Tensor) -> torch.Tensor:
        """(1, C) logits of ``views[0]`` (the original view) after tuning on ``views``.

        The tuned tensors start from their starting values and are back at them
        afterwards (:attr:`last` keeps what the step made of them).

        ``views`` (V, 3, H, W) are normalised images: the original first, then its
        augmented views.
        """
        self.reset()
        with torch.enable_grad():
            image = self._start(views)
            selected = None
            for _ in range(self.steps):
                loss, selected = self._loss(image, views, selected)
                image.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(image.optimizer)
                self.scaler.update()
        with torch.no_grad():
            logits = self._predict(image, views)
            self.last = ImageRecord(selected, image.entropy, image.alignment,
                                    [t.detach().clone() for t in image.tensors],
                                    [_grad_of(t) for t in image.tensors])
        self.reset()  # the model as given between images (hooks may swap its weights)
        return logits

    def _start(self, views: torch.Tensor) -> _Image:
        model = self.model
        if self.conditional:
            # TPT's gen_ctx: every view encoded once; the context from the original view.
            with torch.no_grad():
                raw = model.backbone.clip.encode_image(views[:1]) if self.meta_net_input == 'raw' \
                    else None
                features = model.image_features(views, Prompts())
                source = features[:1] if raw is None else raw[:1].to(features.dtype)
                context = self.learner(source).text_ctx.detach().clone().float()
            context.requires_grad_(True)
            return _Image([context], self._optimizer([context]), lambda: Prompts(text_ctx=context),
                          features)
        image = _Image(self.params, self.optimizer, self.learner)
        if not self.vision_prompted and model.efficient:
            with torch.no_grad():  # the prompts never reach the images: once per image
                image.image_features = model.image_features(views, Prompts())
        return image

    def _text(self, prompts: Prompts) -> torch.Tensor:
        text = self.model.text_features(prompts)
        return text[0] if self.conditional else text

    def _logits(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.model.backbone.logit_scale * image @ text.t()

    def _loss(self, image: _Image, views: torch.Tensor,
              selected: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        model, prompts = self.model, image.prompts()
        text = self._text(prompts)
        blocks: Optional[List[torch.Tensor]] = [] if self.alignment is not None else None
        if image.image_features is not None and blocks is None:
            # The views' features do not change (text-only prompting, CoCoOp): one product.
            logits = self._logits(image.image_features, text)
            selected = confident_views(logits, self.selection) if selected is None else selected
            chosen = logits[selected]
        elif model.efficient:
            if selected is None:  # score every view without gradients, keep the confident
                with torch.no_grad():
                    features = image.image_features if image.image_features is not None \
                        else model.image_features(views, prompts)
                    selected = confident_views(
                        self._logits(features, text.detach()), self.selection)
            features = model.image_features(views[selected], prompts, block_inputs=blocks)
            chosen = self._logits(features, text)
        else:  # the reference: every view through the encoders with gradients
            features = model.image_features(views, prompts, block_inputs=blocks)
            logits = self._logits(features, text)
            selected = confident_views(logits, self.selection) if selected is None else selected
            chosen = logits[selected]
            blocks = None if blocks is None else [b[selected] for b in blocks]
        loss = marginal_entropy(chosen)
        image.entropy.append(float(loss.detach()))
        if self.alignment is not None:
            align = self._alignment(blocks)
            image.alignment.append(float(align.detach()))
            loss = loss + self.alignment.weight * align
        return loss, selected

    def _alignment(self, blocks: List[torch.Tensor]) -> torch.Tensor:
        alignment, layers = self.alignment, list(self.alignment.layers)
        device = blocks[0].device
        return alignment_loss([blocks[layer] for layer in layers],
                              [alignment.mean[layer].to(device) for layer in layers],
                              [alignment.var[layer].to(device) for layer in layers])

    def _predict(self, image: _Image, views: torch.Tensor) -> torch.Tensor:
        prompts = image.prompts()
        text = self._text(prompts)
        if image.image_features is not None:
            original = image.image_features[:1]
        else:  # prompted images, or the reference, which encodes the original view again
            original = self.model.image_features(views[:1], prompts)
        return self._logits(original, text)


def _grad_of(tensor: torch.Tensor) -> torch.Tensor:
    """A copy of the tensor's gradient (zeros where the loss did not reach it)."""
    return torch.zeros_like(tensor) if tensor.grad is None else tensor.grad.detach().clone()
