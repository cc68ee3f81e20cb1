# IVLP (MaPLe's independent vision-language prompting ablation): 2 text and 2 vision prompt
# tokens in the first 12 layers of each tower, learned without coupling; the text context
# starts from "a photo" of "a photo of a".
model = dict(
    type='IVLP',
    prompt_learner=dict(
        type='IVLPPromptLearner',
        n_ctx_text=2,
        n_ctx_vision=2,
        depth_text=12,
        depth_vision=12,
        ctx_init='a photo of a'))
