# CoOp: 16 learned context vectors shared by all classes, random init (std 0.02), the
# class name at the end (the reference's defaults; its ViT-B/16 configs set none).
model = dict(
    type='CoOp',
    prompt_learner=dict(
        type='CoOpPromptLearner',
        n_ctx=16,
        ctx_init='',
        class_specific=False,
        class_token_position='end'))
