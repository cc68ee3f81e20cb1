# ProGrad: CoOp's 16 context vectors, the class name at the end, started from the dataset's
# template (CTX_INIT True: zeros, then the template's words before the class name; a dataset
# config names its template where ProGrad's table does not say "a photo of a {}."). Losses:
# cross-entropy and the soft cross-entropy to the zero-shot CLIP's predictions (T 1.0),
# descended along the prompt-aligned gradient (lambda 1.0).
model = dict(
    type='ProGrad',
    lambda_=1.0,
    temperature=1.0,
    prompt_learner=dict(
        type='ProGradPromptLearner',
        n_ctx=16,
        template='a photo of a {}.',
        ctx_init=True,
        class_token_position='end'))
