# ProGrad, few-shot, as ProGrad.public/README.md runs prograd.sh (16 context vectors from the
# dataset's template, lambda 1.0; 0.8 at 8 and 16 shots on Flowers102, DTD and EuroSAT, which
# their configs set): SGD lr 0.002, batch 32; 50 epochs for 1 shot (rn50_ep50), 100 for 2 and 4
# (rn50_ep100), 200 for 8 and 16 (rn50); ImageNet 50 at every K. tools/train.py --shots K
# applies values_by_shots (train_cfg.max_epochs and param_scheduler.T_max).
# The reference ships RN50 recipes only; these configs run its values on ViT-B/16 (RN50
# configs follow when ResNet CLIPs land).
# Source: ProGrad.public/configs/trainers/ProGrad/rn50{_ep50,_ep100,}.yaml by K, as
#   ProGrad.public/README.md lines 50-58 run them (BeierZhu/Prompt-align)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/prograd.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=32)
test_dataloader = dict(dataset={{_base_.test_set}})

values_by_shots = dict(max_epochs={1: 50, 2: 100, 4: 100, 8: 200, 16: 200})
max_epochs = values_by_shots['max_epochs'][_base_.train_set.num_shots]
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16 (the reference's default, train.py): mixed precision on CUDA (fp16 autocast,
# dynamic loss scaling, fp32 prompts; the zero-shot teacher in fp32), fp32 on CPUs;
# docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
