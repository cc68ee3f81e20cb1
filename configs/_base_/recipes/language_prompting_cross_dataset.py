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

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.0025))
train_cfg = dict(max_epochs=5)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
