# KgCoOp: CoOp's context of 4 tokens from "a photo of a" (class name at the end) trained with
# cross-entropy plus W x (1 - mean cosine to the frozen CLIP's features of the dataset's
# hand-written template), W = 8.
model = dict(
    type='KgCoOp',
    weight=8.0,
    prompt_learner=dict(type='KgCoOpPromptLearner', n_ctx=4, ctx_init='a photo of a'))
