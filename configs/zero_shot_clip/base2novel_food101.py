# Zero-shot CLIP base-to-novel on Food101: Base, Novel and HM (tools/test.py, no checkpoint).
_base_ = ['../_base_/recipes/zero_shot_clip_base2novel.py']

test_dataloader = dict(dataset=dict(type='CoOpFood101'))
