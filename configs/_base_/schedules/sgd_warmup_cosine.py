# The optimisation of every reference trainer (Dassl): SGD with momentum 0.9 and weight
# decay 5e-4 (on the prompts too), no nesterov. The lr steps once per epoch: epoch 1 at
# 1e-5, then a cosine from the recipe's lr restarted after it over T_max = max_epochs, so
# it never reaches 0 (5 epochs at 0.0035: 1e-5, 3.5e-3, 3.17e-3, 2.29e-3, 1.21e-3).
# A recipe sets the lr and train_cfg.max_epochs; T_max is the scheduler's end, which
# mmengine's Runner sets to max_epochs (so --shots K and --cfg-options change both).
optim_wrapper = dict(optimizer=dict(type='SGD', momentum=0.9, weight_decay=5e-4, nesterov=False))
param_scheduler = dict(
    type='ConstantWarmupCosineLR', warmup_value=1e-5, warmup_steps=1, by_epoch=True)
train_cfg = dict(by_epoch=True)
