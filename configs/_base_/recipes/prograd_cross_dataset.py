# ProGrad, cross-dataset and domain generalisation: the reference evaluates the ImageNet models
# of its few-shot runs on the ImageNet variants (README "Robustness to Distribution Shift"):
# scripts/eval.sh loads 4-shot models at epoch 50 (SHOTS=4, --load-epoch 50). So: 4 shots of
# all ImageNet classes, 16 context vectors from "a photo of a {}.", lambda 1.0; SGD lr 0.002,
# batch 32, 50 epochs. The reference ships no cross-dataset run; this one trains alike.
# The reference ships RN50 recipes only; these configs run its values on ViT-B/16 (RN50
# configs follow when ResNet CLIPs land).
# Source: ProGrad.public/configs/trainers/ProGrad/rn50_ep50.yaml as ProGrad.public/scripts/eval.sh
#   tests it (BeierZhu/Prompt-align)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/prograd.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=32, dataset=dict(_base_.train_set, num_shots=4))
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=50)
# PREC fp16, the reference's default (train.py); the zero-shot teacher runs in fp32.
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
