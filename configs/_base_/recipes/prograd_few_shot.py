# ProGrad, few-shot, as ProGrad.public/README.md runs prograd.sh (16 context vectors from the
# dataset's template, lambda 1.0; 0.8 at 8 and 16 shots on Flowers102, DTD and EuroSAT, which
# their configs set): SGD lr 0.002, batch 32; 50 epochs for 1 shot (rn50_ep50), 100 for 2 and 4
# (rn50_ep100), 200 for 8 and 16 (rn50); ImageNet 50 at every K. tools/train.py --shots K
# applies values_by_shots to train_cfg.max_epochs (the lr schedule follows it).
# The reference ships RN50 recipes only; these configs run its values on ViT-B/16 (RN50
# configs follow when ResNet CLIPs land).
# Source: ProGrad.public/configs/trainers/ProGrad/rn50{_ep50,_ep100,}.yaml by K, as
#   ProGrad.public/README.md lines 50-58 run them (BeierZhu/Prompt-align)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/prograd.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

values_by_shots = dict(max_epochs={1: 50, 2: 100, 4: 100, 8: 200, 16: 200})
optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=values_by_shots['max_epochs'][_base_.train_set.num_shots])
# PREC fp16, the reference's default (train.py); the zero-shot teacher runs in fp32.
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
