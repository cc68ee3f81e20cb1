# PromptSRC, few-shot: SGD lr 0.0025, batch 4, 50 epochs at every K; GPA mean 30, std 30
# (ImageNet, Caltech101, OxfordPets, Food101, UCF101, SUN397; the configs of StanfordCars,
# Flowers102, FGVCAircraft, DTD and EuroSAT set mean 45, std 5, as the file says).
# Source: configs/trainers/PromptSRC/vit_b16_c2_ep50_batch4_4+4ctx_few_shot.yaml
#   (muzairkhattak/PromptSRC)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/promptsrc.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})
default_hooks = dict(gpa=dict(type='GaussianPromptAggregationHook', mean=30, std=30))
# The GPA of the fine-grained datasets (their few_shot_<dataset>.py select it).
fine_grained_gpa = dict(mean=45, std=5)

optim_wrapper = dict(optimizer=dict(lr=0.0025))
train_cfg = dict(max_epochs=50)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
