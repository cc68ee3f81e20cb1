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

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=32, dataset=dict(_base_.train_set, num_shots=4))
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=32)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16 (the reference's default, train.py): mixed precision on CUDA (fp16 autocast,
# dynamic loss scaling, fp32 prompts; the zero-shot teacher in fp32), fp32 on CPUs;
# docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
