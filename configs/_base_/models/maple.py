# MaPLe (reference trainers/maple.py, configs/trainers/MaPLe/): 2 text context tokens from "a photo
# of a" and deep text prompts
# in the first 9 layers, each vision prompt a linear projection of the text prompt of
# its layer.
model = dict(
    type='MaPLe',
    prompt_learner=dict(type='MaPLePromptLearner', n_ctx=2, ctx_init='a photo of a', depth=9))
