# VPT-deep (MaPLe's deep vision prompting ablation): 8 vision prompt tokens in the first
# 12 layers of the image tower; the text side is the fixed "a photo of a <class>.".
model = dict(type='VPT', prompt_learner=dict(type='VPTPromptLearner', n_ctx=8, depth=12))
