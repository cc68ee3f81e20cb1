# Zero-shot CLIP, base-to-novel: nothing trained; tests the base and the novel classes.
# Source: scripts/zsclip/zeroshot.sh with configs/trainers/CoOp/vit_b16.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/zero_shot_clip.py',
    '../protocols/base2novel.py'
]

model = dict(backbone={{_base_.clip_backbone}})
# Nothing to learn: no training; tools/test.py CONFIG tests it without a checkpoint.
train_dataloader = None
test_dataloader = dict(dataset={{_base_.test_set}})
