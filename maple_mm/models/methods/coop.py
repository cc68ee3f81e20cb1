"""CoOp: a learned text context for all classes (Zhou et al., IJCV 2022).

``n_ctx`` context vectors replace words of the prompt; the class name goes
after them ('end'), before them ('front') or between their halves ('middle');
optionally every class learns its own context (class-specific context, CSC).
Reference: ``trainers/coop.py`` of muzairkhattak/multimodal-prompt-learning
(CoOp's own code).
"""
import dataclasses
from typing import Optional

from mmpretrain.registry import MODELS
from torch import nn

from maple_mm.checkpoints.reference_layout import CONTEXT, PL, TOKEN_BUFFERS, ReferenceLayout
from maple_mm.errors import ClassNameError, PromptConfigError
from ..class_prompts import class_sentence, move_class_tokens, tokenize_prompts
from ..classifier import PromptedCLIP
from ..prompt_learner import PromptLearner, Prompts, build_clip
from .context import context_from_words, random_context


def word_context(clip, n_ctx: int, ctx_init: str):
    """``(context, prefix)`` as CoOp and CoCoOp start: from the phrase's words, else random.

    With a phrase, n_ctx becomes its number of words and the context the
    embeddings of its first n_ctx tokens; otherwise n_ctx random vectors
    (std 0.02) and the prefix ``"X X ..."``.
    """
    phrase = ctx_init.replace('_', ' ').strip()
    if phrase:
        return context_from_words(clip, phrase, len(phrase.split(' '))), phrase
    if n_ctx < 1:
        raise PromptConfigError(f'n_ctx must be >= 1 without ctx_init, got {n_ctx}')
    return random_context(n_ctx, clip.text_width), ' '.join(['X'] * n_ctx)


@MODELS.register_module()
class CoOpPromptLearner(PromptLearner):
    """CoOp's learned context.

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx: Context vectors (ignored with ``ctx_init``: its number of words).
        ctx_init: Phrase the context starts from ("a photo of a"); empty: random.
        class_specific: Learn a context per class (needs ``num_classes``;
            ignored with ``ctx_init``, as in the reference). Such a model can
            only classify the classes it was trained on.
        class_token_position: 'end', 'middle' or 'front'.
        num_classes: Number of classes, for ``class_specific``.
    """

    def __init__(self,
                 clip,
                 n_ctx: int = 16,
                 ctx_init: str = '',
                 class_specific: bool = False,
                 class_token_position: str = 'end',
                 num_classes: Optional[int] = None) -> None:
        super().__init__()
        clip = build_clip(clip)
        if class_token_position not in ('end', 'middle', 'front'):
            raise PromptConfigError(f"class_token_position must be 'end', 'middle' or 'front', "
                                    f'got {class_token_position!r}')
        ctx, self.prompt_prefix = self.initial_context(clip, n_ctx, ctx_init)
        self.n_ctx = ctx.shape[0]
        self.class_token_position = class_token_position
        self.class_specific = class_specific and not ctx_init.strip()
        if self.class_specific:
            if not num_classes:
                raise PromptConfigError('class_specific=True needs num_classes (the number of '
                                        'classes the context is learned for).')
            ctx = random_context(num_classes, self.n_ctx, clip.text_width)
        self.ctx = nn.Parameter(ctx)

    @staticmethod
    def initial_context(clip, n_ctx: int, ctx_init: str):
        """``(context, prompt prefix)`` to start from (CoOp's: :func:`word_context`)."""
        return word_context(clip, n_ctx, ctx_init)

    def extra_repr(self) -> str:
        return (f'n_ctx={self.n_ctx}, class_specific={self.class_specific}, '
                f'class_token_position={self.class_token_position!r}')

    def build_class_prompts(self, class_names, clip):
        if self.class_specific and len(class_names) != self.ctx.shape[0]:
            raise ClassNameError(
                f'This CoOp model learned a context for each of {self.ctx.shape[0]} classes '
                f'(class_specific=True); it cannot prompt {len(class_names)} classes.')
        sentences = [class_sentence(self.prompt_prefix, name) for name in class_names]
        prompts = tokenize_prompts(clip, sentences, self.n_ctx)
        name_lengths = [len(clip.words(name.replace('_', ' '))) for name in class_names]
        return [move_class_tokens(prompts, name_lengths, self.class_token_position)]

    def forward(self, image_features=None) -> Prompts:
        return Prompts(text_ctx=self.ctx)


def describe_context(converted) -> dict:
    """The learner arguments of a converted CoOp context (shared or class-specific)."""
    ctx = converted[PL + 'ctx']
    info = dict(n_ctx=int(ctx.shape[-2]), class_specific=ctx.dim() == 3)
    if ctx.dim() == 3:
        info['num_classes'] = int(ctx.shape[0])
    return dict(info, text_width=int(ctx.shape[-1]))


#: ``prompt_learner/model.pth.tar-N``: Dassl saves CoOp's prompt learner alone.
REFERENCE_LAYOUT = ReferenceLayout(
    name='coop',
    trainer='CoOp',
    rules=(dataclasses.replace(CONTEXT, class_specific=True), TOKEN_BUFFERS),
    saved_alone=True,
    describe=describe_context,
    not_stored="ctx_init and class_token_position are not stored: use the reference run's "
    "TRAINER.COOP.CTX_INIT and CLASS_TOKEN_POSITION (defaults '' and 'end'; with "
    'ctx_init, n_ctx is its number of words).')


@MODELS.register_module()
class CoOp(PromptedCLIP):
    """Context Optimization (see :class:`PromptedCLIP` for the arguments)."""

    default_learner = 'CoOpPromptLearner'
    reference_layout = REFERENCE_LAYOUT
