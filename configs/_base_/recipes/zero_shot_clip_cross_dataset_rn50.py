# Zero-shot CLIP on RN50, cross-dataset and domain generalisation: nothing trained; one
# hand-written template per dataset; tests ImageNet and the other datasets.
# Source: scripts/coop/zeroshot.sh with configs/trainers/CoOp/rn50.yaml
#   (KaiyangZhou/CoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../clip_backbones.py',
    '../models/zero_shot_clip.py', '../protocols/cross_dataset.py'
]

model = dict(backbone={{_base_.clip_rn50}})
# Nothing to learn: no training; tools/test.py CONFIG tests it without a checkpoint.
train_dataloader = None
test_dataloader = dict(dataset={{_base_.test_set}})
