# Zero-shot CLIP: nothing learned; one hand-written template per dataset, the
# dataset's `prompt_template` (maple_mm/datasets/catalog.py; "a photo of a {}." otherwise).
model = dict(
    type='ZeroShotCLIP', prompt_learner=dict(type='ZeroShotPromptLearner', templates='dataset'))
