# CoCoOp: 4 context vectors from "a photo of a", shifted per image by the meta-net.
model = dict(
    type='CoCoOp',
    prompt_learner=dict(type='CoCoOpPromptLearner', n_ctx=4, ctx_init='a photo of a'))
