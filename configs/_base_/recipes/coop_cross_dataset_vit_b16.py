# CoOp on ImageNet as the CoOp paper's Table 1 trains it, on ViT-B/16: 16 random context vectors
# (M=16; M=4: domain_generalization_vit_b16_nctx4_imagenet.py), class at the end; SGD lr 0.002,
# batch 32, 50 epochs on 16 shots of all ImageNet classes; tested on ImageNet and its 4 variants
# (domain_generalization_vit_b16_imagenet.py). CoOp's released ImageNet prompts are these runs
# (docs/model-zoo.md).
# Source: configs/trainers/CoOp/vit_b16_ep50.yaml as scripts/coop/main.sh trains ImageNet
#   and scripts/coop/eval.sh tests the variants (KaiyangZhou/CoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/coop.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=50)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
