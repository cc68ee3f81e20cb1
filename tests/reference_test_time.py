"""Literal, independent transcriptions of the test-time tuning loops of TPT and PromptAlign.

References: github.com/azshue/TPT @63ecbac (``tpt_classification.py``, ``clip/custom_clip.py``,
``clip/cocoop.py``) and github.com/jameelhassan/PromptAlign @9290564
(``trainers/prompt_align.py``, ``clip/model.py``). This module re-states, in plain
batch-first fp32 code written against the modules of an ``open_clip.CLIP``, what the
references compute for one test sample, with the views given (so randomness is
controlled, spec section 4). Nothing here is imported by ``maple_mm``; nothing of
``maple_mm`` is imported here.

Kept as the references have them: the confident selection by ``argsort`` of the
per-view entropies, ``avg_entropy`` in log space with its clamp, ``AdamW(params, lr)``
with PyTorch's defaults, the ``GradScaler(init_scale=1000)`` (CPU here) stepping
``scale(loss).backward(); step; update``, the reset of the tuned tensors and of the
optimizer state (``load_state_dict`` of the state taken right after construction),
TPT's CoCoOp path (``gen_ctx`` from the *unnormalised* feature of view 0, a fresh
AdamW on ``pgen_ctx`` per sample), PromptAlign's ``visual_feat`` (each vision block's
input, deep prompts in place), its statistics over the selected views and
``distr_align_loss`` over ``range(FROM, TO - 1)`` weighted ``DISTR_LOSS_W / (TO - FROM)``.
Left out: autocast (fp32 here, as the spec's strict comparison asks), the data
loading (views are inputs), the CUDA device.

PromptAlign's MaPLe (its ``clip/model.py``) has no ``.half()`` casts of prompt tokens
(they are commented out there), unlike the MaPLe trainer transcribed in
``tests/reference_trainers.py``: none here.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

# -- the loss pieces (tc.py:41-51, pa.py:784-809) ---------------------------------------------


def select_confident_samples(logits: torch.Tensor, top: float):
    batch_entropy = -(logits.softmax(1) * logits.log_softmax(1)).sum(1)
    idx = torch.argsort(batch_entropy, descending=False)[:int(batch_entropy.size()[0] * top)]
    return logits[idx], idx


def avg_entropy(outputs: torch.Tensor) -> torch.Tensor:
    logits = outputs - outputs.logsumexp(dim=-1, keepdim=True)
    avg_logits = logits.logsumexp(dim=0) - np.log(logits.shape[0])
    min_real = torch.finfo(avg_logits.dtype).min
    avg_logits = torch.clamp(avg_logits, min=min_real)
    return -(avg_logits * torch.exp(avg_logits)).sum(dim=-1)


def entropy_of_mean_log_probabilities(outputs: torch.Tensor) -> torch.Tensor:
    """NOT the reference: the negative control (mean of log-probabilities, not of probabilities)."""
    avg_logits = outputs.log_softmax(dim=-1).mean(dim=0)
    return -(avg_logits * torch.exp(avg_logits)).sum(dim=-1)


def distr_align_loss(out_feat, targ_feat, layers_from: int = 0, layers_to: int = 12):
    distr_loss = 0
    out_means, out_vars = out_feat
    targ_means, targ_vars = targ_feat
    for layer in range(layers_from, layers_to - 1):
        out_mean, out_var = out_means[layer], out_vars[layer]
        targ_mean, targ_var = targ_means[layer], targ_vars[layer]
        distr_loss += 0.5 * F.l1_loss(out_mean, targ_mean) + 0.5 * F.l1_loss(out_var, targ_var)
    return distr_loss


# -- the CLIP pieces (the references' TextEncoder / image encoders) ----------------------------


def _text_projection(clip, x):
    if isinstance(clip.text_projection, torch.nn.Linear):
        return clip.text_projection(x)
    return x @ clip.text_projection


def text_encoder(clip, prompts, tokenized, deep=(), n_ctx: int = 0):
    """TextEncoder.forward; MaPLe's deep text prompts replace positions 1..n_ctx before
    blocks 1..len(deep) (PromptAlign clip/model.py:320-334)."""
    x = prompts + clip.positional_embedding
    for k, block in enumerate(clip.transformer.resblocks):
        if 1 <= k <= len(deep):
            n = x.shape[0]
            x = torch.cat([x[:, :1], deep[k - 1].expand(n, -1, -1), x[:, 1 + n_ctx:]], dim=1)
        x = block(x, attn_mask=clip.attn_mask)
    x = clip.ln_final(x)
    return _text_projection(clip, x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)])


def image_encoder(clip, images, shallow=None, deep=(), visual_feat: Optional[list] = None):
    """The (MaPLe) vision transformer; ``visual_feat`` receives each block's input
    (PromptAlign clip/model.py:336-338: ``self.visual_feat = x``)."""
    visual = clip.visual
    batch = images.shape[0]
    x = visual.conv1(images)
    x = x.reshape(batch, x.shape[1], -1).permute(0, 2, 1)
    cls = visual.class_embedding.reshape(1, 1, -1).expand(batch, -1, -1)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding
    n = 0
    if shallow is not None:
        n = shallow.shape[0]
        x = torch.cat([x, shallow.expand(batch, -1, -1)], dim=1)
    x = visual.ln_pre(x)
    for k, block in enumerate(visual.transformer.resblocks):
        if 1 <= k <= len(deep):
            x = torch.cat([x[:, :x.shape[1] - n], deep[k - 1].expand(batch, -1, -1)], dim=1)
        if visual_feat is not None:
            visual_feat.append(x)
        x = block(x)
    return visual.ln_post(x[:, 0]) @ visual.proj


def _tokens(tokenizer, prefix: str, classnames: Sequence[str]):
    return tokenizer([prefix + ' ' + name.replace('_', ' ') + '.' for name in classnames])


# -- TPT's model (clip/custom_clip.py: ClipTestTimeTuning) -----------------------------------


class TPTCoOp(torch.nn.Module):
    """ClipTestTimeTuning: CoOp's context at positions 1..n_ctx, class name at the end."""

    def __init__(self, clip, tokenizer, classnames, ctx: torch.Tensor, prefix: str):
        super().__init__()
        self.__dict__['clip'] = clip  # frozen, not one of the tuned parameters
        self.n_ctx = ctx.shape[0]
        self.ctx = torch.nn.Parameter(ctx.detach().clone())
        self.ctx_init_state = ctx.detach().clone()
        self.tokenized = _tokens(tokenizer, prefix, classnames)
        with torch.no_grad():
            embedding = clip.token_embedding(self.tokenized)
        self.token_prefix = embedding[:, :1]
        self.token_suffix = embedding[:, 1 + self.n_ctx:]

    def reset(self):
        self.ctx.copy_(self.ctx_init_state)

    def get_text_features(self):
        n_cls = self.tokenized.shape[0]
        prompts = torch.cat(
            [self.token_prefix,
             self.ctx.unsqueeze(0).expand(n_cls, -1, -1), self.token_suffix],
            dim=-2)
        t_features = text_encoder(self.clip, prompts, self.tokenized)
        return t_features / t_features.norm(dim=-1, keepdim=True)

    def forward(self, image):  # inference()
        with torch.no_grad():
            image_features = image_encoder(self.clip, image)
        text_features = self.get_text_features()
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        return self.clip.logit_scale.exp() * image_features @ text_features.t()


class TPTCoCoOp(torch.nn.Module):
    """clip/cocoop.py CoCoOpCLIP: gen_ctx and forward_ctx."""

    def __init__(self, clip, tokenizer, classnames, ctx, meta_net: Dict[str, torch.Tensor],
                 prefix: str):
        super().__init__()
        self.__dict__['clip'] = clip
        self.n_ctx, self.ctx, self.meta = ctx.shape[0], ctx, meta_net
        self.tokenized = _tokens(tokenizer, prefix, classnames)
        with torch.no_grad():
            embedding = clip.token_embedding(self.tokenized)
        self.token_prefix = embedding[:, :1]
        self.token_suffix = embedding[:, 1 + self.n_ctx:]

    def meta_net(self, x):
        m = self.meta
        hidden = torch.relu(x @ m['linear1.weight'].t() + m['linear1.bias'])
        return hidden @ m['linear2.weight'].t() + m['linear2.bias']

    def gen_ctx(self, images, normalize: bool = False):
        """``normalize=False`` is the reference (spec Q2); True feeds the meta-net as CoCoOp
        trains and infers."""
        with torch.no_grad():
            image_features = image_encoder(self.clip, images)
            avg = image_features[0].unsqueeze(0)
            if normalize:
                avg = avg / avg.norm(dim=-1, keepdim=True)
            ctx = self.ctx.unsqueeze(0) + self.meta_net(avg).unsqueeze(1)
        return image_features, ctx.detach().clone()

    def forward_ctx(self, image_features, ctx):
        n_cls = self.tokenized.shape[0]
        prompts = torch.cat(
            [self.token_prefix, ctx.expand(n_cls, -1, -1), self.token_suffix], dim=-2)
        text_features = text_encoder(self.clip, prompts, self.tokenized)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        return self.clip.logit_scale.exp() * image_features @ text_features.t()


# -- PromptAlign's model (trainers/prompt_align.py CustomCLIP, its clip/model.py) -----------------


class PromptAlignMaPLe(torch.nn.Module):
    """MultiModalPromptLearner + CustomCLIP, fp32, recording ``visual_feat`` per block."""

    def __init__(self,
                 clip,
                 tokenizer,
                 classnames,
                 tensors: Dict[str, torch.Tensor],
                 prefix: str = 'a photo of a'):
        super().__init__()
        self.__dict__['clip'] = clip  # the prompt learner's parameters are the tuned ones
        self.ctx = torch.nn.Parameter(tensors['ctx'].clone())
        self.n_ctx = self.ctx.shape[0]
        self.proj = torch.nn.Linear(*reversed(tensors['proj.weight'].shape))
        self.proj.load_state_dict({'weight': tensors['proj.weight'], 'bias': tensors['proj.bias']})
        depth = 1 + sum(1 for k in tensors if k.startswith('compound_prompts_text.'))
        self.compound_prompts_text = torch.nn.ParameterList([
            torch.nn.Parameter(tensors[f'compound_prompts_text.{i}'].clone())
            for i in range(depth - 1)
        ])
        self.compound_prompt_projections = torch.nn.ModuleList()
        for i in range(depth - 1):
            weight = tensors[f'compound_prompt_projections.{i}.weight']
            layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
            layer.load_state_dict({
                'weight': weight,
                'bias': tensors[f'compound_prompt_projections.{i}.bias']
            })
            self.compound_prompt_projections.append(layer)
        self.set_prompt_init_states()
        self.tokenized = _tokens(tokenizer, prefix, classnames)
        with torch.no_grad():
            embedding = clip.token_embedding(self.tokenized)
        self.token_prefix = embedding[:, :1]
        self.token_suffix = embedding[:, 1 + self.n_ctx:]
        self.visual_feat: List[torch.Tensor] = []

    def set_prompt_init_states(self):
        self.init_state = [p.detach().clone() for p in self.parameters()]

    def reset(self):
        with torch.no_grad():
            for p, value in zip(self.parameters(), self.init_state):
                p.copy_(value)

    def forward(self, image):
        n_cls = self.tokenized.shape[0]
        prompts = torch.cat(
            [self.token_prefix,
             self.ctx.unsqueeze(0).expand(n_cls, -1, -1), self.token_suffix],
            dim=1)
        deep_text = list(self.compound_prompts_text)
        deep_vision = [layer(p) for layer, p in zip(self.compound_prompt_projections, deep_text)]
        text = text_encoder(self.clip, prompts, self.tokenized, deep_text, self.n_ctx)
        self.visual_feat = []
        image_features = image_encoder(self.clip, image, self.proj(self.ctx), deep_vision,
                                       self.visual_feat)
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        text = text / text.norm(dim=-1, keepdim=True)
        return self.clip.logit_scale.exp() * image_features @ text.t()


# -- the loops (tc.py:54-84,253-299; pa.py:671-782) ----------------------------------------------


class SampleResult(NamedTuple):
    selected: torch.Tensor
    entropy: List[float]
    alignment: List[float]
    tuned: List[torch.Tensor]  # the tuned tensors after the last step
    logits: torch.Tensor  # (1, C) of view 0 with the tuned prompts
    grads: List[torch.Tensor]  # their last gradients, unscaled (scaler.step unscales in place)


def make_scaler():
    return torch.amp.GradScaler('cpu', init_scale=1000)


def tpt_sample(model: TPTCoOp,
               images: torch.Tensor,
               optimizer,
               optim_state,
               scaler,
               lr: float = 5e-3,
               tta_steps: int = 1,
               selection_p: float = 0.1,
               entropy=avg_entropy) -> SampleResult:
    """One sample of ``test_time_adapt_eval`` (not CoCoOp): reset, tune, infer view 0."""
    with torch.no_grad():
        model.reset()
    optimizer.load_state_dict(optim_state)
    selected_idx, entropies = None, []
    for _ in range(tta_steps):
        output = model(images)
        if selected_idx is not None:
            output = output[selected_idx]
        else:
            output, selected_idx = select_confident_samples(output, selection_p)
        loss = entropy(output)
        entropies.append(float(loss.detach()))
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    tuned = [model.ctx.detach().clone()]
    with torch.no_grad():
        logits = model(images[:1])
    return SampleResult(selected_idx, entropies, [], tuned, logits, [model.ctx.grad.clone()])


def tpt_cocoop_sample(model: TPTCoCoOp,
                      images: torch.Tensor,
                      scaler,
                      lr: float = 5e-3,
                      tta_steps: int = 1,
                      selection_p: float = 0.1,
                      normalize_meta_input: bool = False) -> SampleResult:
    image_feature, pgen_ctx = model.gen_ctx(images, normalize_meta_input)
    pgen_ctx.requires_grad = True
    optimizer = torch.optim.AdamW([pgen_ctx], lr)
    selected_idx, entropies = None, []
    for _ in range(tta_steps):
        output = model.forward_ctx(image_feature, pgen_ctx)
        if selected_idx is not None:
            output = output[selected_idx]
        else:
            output, selected_idx = select_confident_samples(output, selection_p)
        loss = avg_entropy(output)
        entropies.append(float(loss.detach()))
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    with torch.no_grad():
        logits = model.forward_ctx(image_feature[0].unsqueeze(0), pgen_ctx)
    return SampleResult(selected_idx, entropies, [], [pgen_ctx.detach().clone()], logits,
                        [pgen_ctx.grad.clone()])


def promptalign_sample(model: PromptAlignMaPLe,
                       images: torch.Tensor,
                       optimizer,
                       optim_state,
                       scaler,
                       visual_means: torch.Tensor,
                       visual_vars: torch.Tensor,
                       tta_steps: int = 1,
                       tpt_threshold: float = 0.1,
                       align_threshold: float = 0.1,
                       align_layer_from: int = 0,
                       align_layer_to: int = 3,
                       distr_loss_w: float = 100.,
                       distr_align: bool = True) -> SampleResult:
    """One sample of PromptAlign's ``test_time_adapt_eval`` / ``test_time_tuning``."""
    with torch.no_grad():
        model.reset()
    optimizer.load_state_dict(optim_state)
    selected_idx, entropies, alignments = None, [], []
    for _ in range(tta_steps):
        output = model(images)
        if selected_idx is not None:
            output = output[selected_idx]
        else:
            batch_entropy = -(output.softmax(1) * output.log_softmax(1)).sum(1)
            order = torch.argsort(batch_entropy, descending=False)
            idx_tpt = order[:int(batch_entropy.size()[0] * tpt_threshold)]
            selected_idx = order[:int(batch_entropy.size()[0] * align_threshold)]
            output = output[idx_tpt]
        loss = avg_entropy(output)
        entropies.append(float(loss.detach()))
        # visual_feat is batch-first here: (views, tokens, width) per block
        feats = [f[selected_idx] for f in model.visual_feat]
        out_visual_mean = torch.stack([f.mean(dim=0) for f in feats])
        out_visual_var = torch.stack([((f - m.unsqueeze(0))**2).mean(dim=0)
                                      for f, m in zip(feats, out_visual_mean)])
        if distr_align:
            weight = distr_loss_w / (align_layer_to - align_layer_from)
            align = distr_align_loss((out_visual_mean, out_visual_var), (visual_means, visual_vars),
                                     align_layer_from, align_layer_to)
            alignments.append(float(align.detach()))
            loss = loss + weight * align
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    tuned = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        logits = model(images[:1])
    return SampleResult(selected_idx, entropies, alignments, tuned, logits,
                        [p.grad.clone() for p in model.parameters()])
