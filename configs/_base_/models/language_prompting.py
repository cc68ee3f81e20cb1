# Deep language prompting (MaPLe's language-only ablation, IVLP without vision prompts):
# 4 text prompt tokens in the first 12 text layers, the context starting from "a photo of a".
model = dict(
    type='LanguagePrompting',
    prompt_learner=dict(type='LanguagePromptLearner', n_ctx=4, depth=12, ctx_init='a photo of a'))
