# Language prompting, cross-dataset and domain generalisation: SGD lr 0.0025, batch 4, 5 epochs.
# The base-to-novel config, as scripts/language-prompting/xd_train_lp.sh trains ImageNet
# (its test script loads epoch 2, which a 5-epoch run does not save; the last epoch is
# tested here).
# Source: configs/trainers/IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/language_prompting.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=4)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 5
optim_wrapper = dict(optimizer=dict(lr=0.0025))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16: mixed precision on CUDA (fp16 autocast, dynamic loss scaling, fp32
# prompts), fp32 on CPUs; docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
