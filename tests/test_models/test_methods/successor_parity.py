"""What the successors' parity tests share: a tiny CLIP model loaded from reference tensors."""
import re
from typing import Dict

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from maple_mm.models import TINY_CLIP_CFG, TINY_RESNET_CLIP_CFG

# Names of 1 to 4 BPE tokens; 'crane (bird)' merges its ')' with the prompt's '.'.
CLASS_NAMES = ['dog', 'golden_retriever', 'sea turtle', 'aircraft carrier', 'crane (bird)']
LABELS = [0, 3, 4]
TOL = dict(rtol=1e-5, atol=1e-5)

#: The tiny CLIPs: ViT image tower, and ModifiedResNet image tower (text-only methods).
CLIPS = {'vit': TINY_CLIP_CFG, 'resnet': TINY_RESNET_CLIP_CFG}


def build(model_type: str, clip: str = 'vit', **kwargs):
    return MODELS.build(
        dict(
            type=model_type,
            backbone=dict(type='OpenCLIPBackbone', model_cfg=CLIPS[clip]),
            class_names=CLASS_NAMES,
            **kwargs))


def images() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def samples():
    return [DataSample().set_gt_label(label) for label in LABELS]


def our_name(reference: str) -> str:
    """The maple_mm parameter a reference learned tensor maps to (stated independently)."""
    if reference == 'prompt_learner.ctx':
        return reference
    if reference == 'image_encoder.VPT':
        return 'prompt_learner.vision_ctx'
    block = re.match(r'(image|text)_encoder\.transformer\.resblocks\.(\d+)\.VPT_shallow$',
                     reference)
    assert block, reference
    kind = 'vision' if block[1] == 'image' else 'text'
    return f'prompt_learner.deep_{kind}_prompts.{int(block[2]) - 1}'


def learned_copy(ref: Dict[str, torch.Tensor], names) -> Dict[str, torch.Tensor]:
    """``ref`` in fp32 with the learned tensors ``names`` requiring grad."""
    out = {k: v.float().clone() for k, v in ref.items()}
    for name in names:
        out[name].requires_grad_(True)
    return out


def assert_parity(model, theirs: Dict[str, torch.Tensor], ref_learned, terms: Dict[str, str], imgs,
                  efficient: bool) -> None:
    """Logits, each loss term, the total and its gradient on every learned tensor agree.

    ``terms`` maps our loss keys to the transcription's; ``theirs`` was
    computed with ``ref_learned`` requiring grad and is back-propagated here.
    """
    model.train()
    model.efficient = efficient
    model.zero_grad(set_to_none=True)
    model.text_cache.clear()
    model.frozen_text_cache.clear()  # each path computes its own
    where = f'efficient={efficient}'
    losses = model.loss(imgs, samples())
    assert set(losses) == set(terms), where
    for ours_key, their_key in terms.items():
        torch.testing.assert_close(
            losses[ours_key], theirs[their_key], **TOL, msg=lambda m: f'{where} {ours_key}: {m}')
    total = sum(losses.values())
    torch.testing.assert_close(total, theirs['loss'], **TOL)
    total.backward()
    for param in ref_learned.values():
        param.grad = None
    theirs['loss'].backward(retain_graph=True)
    params = dict(model.named_parameters())
    for name, tensor in ref_learned.items():
        assert tensor.grad is not None and tensor.grad.abs().max() > 0, name
        torch.testing.assert_close(
            params[our_name(name)].grad,
            tensor.grad,
            **TOL,
            msg=lambda m: f'{where} grad {name}: {m}')
    assert all(p.grad is None for p in model.backbone.parameters())
    model.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(imgs),
            theirs['logits'].detach(),
            **TOL,
            msg=lambda m: f'{where} eval logits: {m}')
