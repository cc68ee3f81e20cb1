# CoOp on ImageNet as the CoOp paper's Table 1 trains it, on ViT-B/16: 16 random context
# vectors (M=16; M=4 is model.prompt_learner.n_ctx=4), class at the end; SGD lr 0.002,
# batch 32, 50 epochs on 16 shots of all ImageNet classes; tested on ImageNet and its 4
# variants (domain_generalization_vit_b16_imagenet.py). CoOp's released ImageNet prompts
# are these runs (docs/model-zoo.md).
# Source: configs/trainers/CoOp/vit_b16_ep50.yaml as scripts/coop/main.sh trains ImageNet
#   and scripts/coop/eval.sh tests the variants (KaiyangZhou/CoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/coop.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=32)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16: mixed precision on CUDA (fp16 autocast, dynamic loss scaling, fp32
# prompts), fp32 on CPUs; docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
