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

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=32, dataset=dict(_base_.train_set, num_shots=4))
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=100)
# PREC fp16, the reference's default (train.py); the zero-shot teacher runs in fp32.
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
