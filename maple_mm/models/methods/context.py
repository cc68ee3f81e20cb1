"""The learned text context every text-prompting method starts from."""
from typing import Tuple

import torch

from ..clip import OpenCLIPBackbone


def context_from_words(clip: OpenCLIPBackbone, phrase: str, n_ctx: int) -> torch.Tensor:
    """(n_ctx, text_width) embeddings of the first ``n_ctx`` tokens of ``phrase``.

    As the reference, the first ``n_ctx`` BPE tokens after SOS, whatever BPE
    makes of the words.
    """
    tokens = clip.words(phrase)
    if len(tokens) < n_ctx:
        from maple_mm.errors import PromptConfigError
        raise PromptConfigError(f'ctx_init {phrase!r} has {len(tokens)} tokens, fewer than '
                                f'n_ctx={n_ctx}; use a longer phrase or fewer tokens.')
    with torch.no_grad():
        return clip.embed_tokens(torch.tensor(tokens[:n_ctx])).clone().float()


def random_context(*shape: int) -> torch.Tensor:
    """Context vectors drawn from N(0, 0.02^2), the reference's random init."""
    return torch.empty(*shape).normal_(std=0.02)


def initial_context(clip: OpenCLIPBackbone,
                    n_ctx: int,
                    ctx_init: str,
                    max_words: int = 4) -> Tuple[torch.Tensor, str]:
    """``(context, prompt prefix)`` as MaPLe and IVLP initialise them.

    With a phrase and at most ``max_words`` tokens, the context starts from the
    phrase's first ``n_ctx`` token embeddings and the whole phrase prefixes every
    class prompt ("a photo of a dog.": the context replaces "a photo", "of a"
    stays fixed); otherwise it is random and the prefix is ``"X X ..."``.
    """
    phrase = ctx_init.replace('_', ' ').strip()
    if n_ctx == 0:  # nothing learned: the phrase is a fixed part of the prompt
        return torch.empty(0, clip.text_width), phrase
    if phrase and n_ctx <= max_words:
        return context_from_words(clip, phrase, n_ctx), phrase
    return random_context(n_ctx, clip.text_width), ' '.join(['X'] * n_ctx)
