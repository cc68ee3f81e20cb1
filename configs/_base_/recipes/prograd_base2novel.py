# ProGrad, base-to-novel, as scripts/base2new_train_prograd.sh trains it: 4 shots of the base
# classes (not the protocol's 16), 16 context vectors from the dataset's template, lambda 1.0;
# SGD lr 0.002, batch 32, 100 epochs (ImageNet 50: base2novel_imagenet.py, README line 132).
# The reference ships RN50 recipes only; these configs run its values on ViT-B/16 (RN50
# configs follow when ResNet CLIPs land).
# Source: ProGrad.public/configs/trainers/ProGrad/rn50_ep100.yaml (BeierZhu/Prompt-align)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/prograd.py',
    '../protocols/base2novel.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=32, dataset=dict(_base_.train_set, num_shots=4))
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=32)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 100
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16 (the reference's default, train.py): mixed precision on CUDA (fp16 autocast,
# dynamic loss scaling, fp32 prompts; the zero-shot teacher in fp32), fp32 on CPUs;
# docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
