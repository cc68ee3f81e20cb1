# ProGrad few-shot on ImageNet: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/prograd_few_shot.py']

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)

# ImageNet trains 50 epochs at every K: its few-shot models are the ones scripts/eval.sh
# loads at epoch 50.
# Source: ProGrad.public/scripts/eval.sh (--load-epoch 50) (BeierZhu/Prompt-align)
values_by_shots = dict(max_epochs={1: 50, 2: 50, 4: 50, 8: 50, 16: 50})
train_cfg = dict(max_epochs=50)
