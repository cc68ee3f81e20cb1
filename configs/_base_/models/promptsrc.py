# PromptSRC: IVLP's prompts (4 text + 4 vision tokens in the first 9 layers of each tower,
# the text context from "a photo of a") trained with cross-entropy plus L1 to the frozen
# CLIP's text (x25, 60 templates averaged) and image (x10) features and KL to its zero-shot
# logits; GaussianPromptAggregationHook (the recipes) averages the prompts over epochs.
model = dict(
    type='PromptSRC',
    text_weight=25.0,
    image_weight=10.0,
    prompt_learner=dict(
        type='PromptSRCPromptLearner',
        n_ctx_text=4,
        n_ctx_vision=4,
        depth_text=9,
        depth_vision=9,
        ctx_init='a photo of a'))
