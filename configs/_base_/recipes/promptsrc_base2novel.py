# PromptSRC, base-to-novel: SGD lr 0.0025, batch 4, 20 epochs; GPA mean 15, std 1.
# Source: configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml (muzairkhattak/PromptSRC)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/promptsrc.py',
    '../protocols/base2novel.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})
default_hooks = dict(gpa=dict(type='GaussianPromptAggregationHook', mean=15, std=1))

optim_wrapper = dict(optimizer=dict(lr=0.0025))
train_cfg = dict(max_epochs=20)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
