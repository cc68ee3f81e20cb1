"""How a method declares the checkpoints its reference code saves: the key map the converter reads.

The reference implementations are Dassl trainers of the CoOp code base. A
trainer saves either its prompt learner alone (Dassl's model name
``prompt_learner``: keys ``ctx``, ``token_prefix``, ...) or the whole
``CustomCLIP``, whose frozen CLIP (``image_encoder.*``, ``text_encoder.*``,
``logit_scale``) sits beside the prompts. A method whose reference saves
checkpoints sets ``reference_layout`` on its model class
(:class:`~maple_mm.models.PromptedCLIP`) to a :class:`ReferenceLayout`, next
to its learner: which reference key becomes which of its keys (:class:`Tensor`,
:class:`Linear`, :class:`Numbered`), with the shapes they must have, what is
dropped (:class:`Dropped`), how its files are told apart. The converter
(:mod:`maple_mm.checkpoints.reference_converter`) reads every registered layout
and knows no method by name.

A prompt depth is the number of deep prompts + 1 (the input-level prompts count
as the first layer), as the reference's PROMPT_DEPTH counts it.
"""
import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch

#: The prompt learner's prefix, in the reference's CustomCLIP and in maple_mm.
PL = 'prompt_learner.'
#: Modules whose objects a reference (Dassl) checkpoint pickles.
REFERENCE_MODULES = ('dassl.', )
#: The frozen CLIP inside a whole saved CustomCLIP: dropped (rebuilt from the config).
FROZEN_CLIP_PREFIXES = ('image_encoder.', 'text_encoder.')
FROZEN_CLIP_KEYS = ('logit_scale', )


class Rule:
    """One group of reference keys (see the subclasses)."""

    reference: str
    #: Whether the keys are learned prompts (converted) rather than dropped.
    learned = True

    @property
    def pattern(self) -> 're.Pattern':
        """Matches the whole reference key(s) of the rule."""
        raise NotImplementedError

    @property
    def display(self) -> str:
        """The keys as messages show them."""
        return self.reference

    def matches(self, key: str) -> bool:
        return self.pattern.match(key) is not None


@dataclass(frozen=True, eq=False)
class Tensor(Rule):
    """A reference tensor that becomes ``ours``.

    Args:
        reference: Its key in the reference's CustomCLIP state dict.
        ours: Its key in maple_mm's state dict.
        shape: Its dimensions as messages name them, e.g. ``'(n_ctx, text_width)'``.
        class_specific: Also accept one of them per class (``(num_classes, ...)``).
    """
    reference: str
    ours: str
    shape: str
    class_specific: bool = False

    @property
    def pattern(self) -> 're.Pattern':
        return re.compile(re.escape(self.reference) + '$')


@dataclass(frozen=True)
class Width:
    """One dimension of an already converted tensor (of a :class:`Linear`: of its weight)."""
    of: Rule
    axis: int


@dataclass(frozen=True, eq=False)
class Linear(Rule):
    """A reference ``nn.Linear`` (``<reference>.weight|bias``) that becomes ``ours``.

    Args:
        inputs / outputs: The width its input / output must have, if another
            tensor fixes it.
        why: What it maps, for the message when a width does not fit.
    """
    reference: str
    ours: str
    inputs: Optional[Width] = None
    outputs: Optional[Width] = None
    why: str = ''

    @property
    def pattern(self) -> 're.Pattern':
        return re.compile(re.escape(self.reference) + r'\.(weight|bias)$')

    @property
    def display(self) -> str:
        return f'{self.reference}.weight|bias'


@dataclass(frozen=True, eq=False)
class Numbered(Rule):
    """Deep prompts (or deep layers) numbered ``first``, ``first + 1``, ... without gaps.

    Args:
        reference: The key with ``{i}`` for the number.
        ours: maple_mm's key with ``{i}``, numbered from 0.
        first: The reference's first number.
        what: What they are, e.g. ``'deep text prompts'``.
        like: A :class:`Tensor` each has the shape of, or a :class:`Linear`
            each is shaped like (then they are Linear layers).
        one_per: Another numbered rule they come one per (as many of them).
    """
    reference: str
    ours: str
    first: int
    what: str
    like: Rule
    one_per: Optional['Numbered'] = None

    @property
    def linear(self) -> bool:
        return isinstance(self.like, Linear)

    @property
    def pattern(self) -> 're.Pattern':
        head, tail = (re.escape(part) for part in self.reference.split('{i}'))
        return re.compile(head + r'(\d+)' + tail + (r'\.(weight|bias)$' if self.linear else '$'))

    @property
    def display(self) -> str:
        return self.reference.replace('{i}', '<i>') + ('.weight|bias' if self.linear else '')

    @property
    def glob(self) -> str:
        return self.reference.replace('{i}', '*')


@dataclass(frozen=True, eq=False)
class Dropped(Rule):
    """Reference keys that are not converted, and why.

    Args:
        reference: A regular expression matching the whole key.
        why: Why they are not needed, e.g. ``'rebuilt from the class names'``.
        shown: The keys as messages show them.
        what: What they are, e.g. ``'the token buffers'``.
    """
    reference: str
    why: str
    shown: str
    what: str = ''
    learned = False

    @property
    def pattern(self) -> 're.Pattern':
        return re.compile(self.reference + '$')

    @property
    def display(self) -> str:
        return self.shown


#: The learned text context every text-prompting trainer of the CoOp code base has.
CONTEXT = Tensor(PL + 'ctx', PL + 'ctx', shape='(n_ctx, text_width)')
#: The token embeddings around the context, registered as buffers.
TOKEN_BUFFERS = Dropped(
    re.escape(PL) + r'token_(prefix|suffix)',
    why='rebuilt from the class names',
    shown=f'{PL}token_prefix, {PL}token_suffix',
    what='the token buffers')


def count(converted: Mapping[str, torch.Tensor], rule: Numbered) -> int:
    """How many of ``rule``'s deep prompts (or layers) a converted state dict holds."""
    head, tail = rule.ours.split('{i}')
    suffix = tail + ('.weight' if rule.linear else '')
    return sum(1 for key in converted if key.startswith(head) and key.endswith(suffix))


@dataclass(frozen=True)
class ReferenceLayout:
    """The checkpoints one reference trainer saves, and how they become maple_mm's.

    Args:
        name: The converter's name of it (``--method``), e.g. ``'maple'``.
        trainer: The reference trainer (its TRAINER.NAME), for messages.
        rules: Its keys, in the order they are converted (a rule a later one
            refers to comes first). Tensors and Linear layers must be there;
            numbered and dropped keys may be absent.
        saved_alone: Dassl saves the prompt learner alone (keys without
            ``prompt_learner.``, no frozen CLIP); otherwise the whole model.
        describe: The learner arguments (then ``text_width`` /
            ``vision_width`` / ``embed_dim``) a converted state dict fits.
        not_stored: What the checkpoint does not say and the config must repeat.
        frozen: Further frozen-CLIP key prefixes it saves (dropped).
        signature: Key prefixes only its files hold. A layout that extends
            another (``base``) is told from it by these alone: without them its
            files are its base's, and ``--method`` must name it.
        base: The layout whose keys it keeps (see :meth:`extended`).
    """
    name: str
    trainer: str
    rules: Tuple[Rule, ...]
    saved_alone: bool
    describe: Callable[[Mapping[str, torch.Tensor]], Dict[str, Any]]
    not_stored: str
    frozen: Tuple[str, ...] = ()
    signature: Tuple[str, ...] = ()
    base: Optional['ReferenceLayout'] = None

    def extended(self, name: str, trainer: str, rules: Tuple[Rule, ...] = (),
                 **changes) -> 'ReferenceLayout':
        """A layout keeping this one's keys, plus ``rules`` (e.g. weights its forward ignores)."""
        return dataclasses.replace(
            self, name=name, trainer=trainer, rules=self.rules + tuple(rules), base=self, **changes)

    def rule_for(self, key: str) -> Optional[Rule]:
        """The rule ``key`` (a normalised reference key) falls under, if any."""
        return next((rule for rule in self.rules if rule.matches(key)), None)

    def is_frozen(self, key: str) -> bool:
        return key.startswith(self.frozen)

    def has_signature(self, keys) -> bool:
        return any(key.startswith(self.signature) for key in keys)

    @property
    def required(self) -> Tuple[str, ...]:
        """The keys every file of the layout holds."""
        keys = []
        for rule in self.rules:
            if isinstance(rule, Tensor):
                keys.append(rule.reference)
            elif isinstance(rule, Linear):
                keys += [f'{rule.reference}.weight', f'{rule.reference}.bias']
        return tuple(keys)

    @property
    def expected_keys(self) -> str:
        """Its keys as messages list them."""

        def shown(rule: Rule) -> str:
            text = rule.display
            return text.replace(PL, '') if self.saved_alone else text

        learned = ', '.join(shown(r) for r in self.rules if r.learned)
        dropped = [shown(r) for r in self.rules if not r.learned]
        dropped += [f'{prefix}*' for prefix in self.frozen]
        return (learned + (f' [+ {", ".join(dropped)}]' if dropped else '') +
                (' (with or without "prompt_learner.")' if self.saved_alone else ''))


def registered_layouts() -> Dict[str, Tuple[ReferenceLayout, str]]:
    """``{name: (layout, model type)}`` of the registered models that declare a layout
    (their own ``reference_layout``, not inherited), in registration order."""
    from mmpretrain.registry import MODELS

    found: Dict[str, Tuple[ReferenceLayout, str]] = {}
    for model_type, cls in MODELS.module_dict.items():
        layout = vars(cls).get('reference_layout') if isinstance(cls, type) else None
        if not isinstance(layout, ReferenceLayout):
            continue
        if layout.name in found:
            raise RuntimeError(f'{model_type} and {found[layout.name][1]} both declare the '
                               f'reference layout {layout.name!r}: give each its own name.')
        found[layout.name] = (layout, model_type)
    return found


def learner_alone(key: str, layouts) -> bool:
    """A key of a prompt learner saved on its own (without ``prompt_learner.``)."""
    return any(layout.saved_alone and layout.rule_for(PL + key) for layout in layouts)


def looks_like_reference(keys) -> bool:
    """Whether state-dict ``keys`` (without the model prefix) are the reference code's.

    True for a key only the reference saves: one of a prompt learner saved
    alone (``ctx``, ``meta_net.*`` ...), the frozen CLIP, or a reference key
    that a layout renames or drops (of the registered methods' layouts).
    """
    layouts = [layout for layout, _ in registered_layouts().values()]
    ours = set()
    for layout in layouts:
        for rule in layout.rules:
            if isinstance(rule, Tensor):
                ours.add(rule.ours)
            elif isinstance(rule, Linear):
                ours.update((rule.ours + '.weight', rule.ours + '.bias'))
    for key in keys:
        if key in FROZEN_CLIP_KEYS or key.startswith(FROZEN_CLIP_PREFIXES):
            return True
        if not key.startswith(PL) and learner_alone(key, layouts):
            return True
        if key not in ours and (any(
                layout.rule_for(key) or layout.is_frozen(key) for layout in layouts)):
            return True
    return False
