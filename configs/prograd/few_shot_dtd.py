# ProGrad few-shot on DTD: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/prograd_few_shot.py']

dataset = dict(type='CoOpDTD')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of DTD starts the context and prompts the teacher; lambda is 0.8
# at 8 and 16 shots on Flowers102, DTD and EuroSAT (1.0 below; the config's own K is 16).
# Source: CUSTOM_TEMPLATES['DescribableTextures'] in ProGrad.public/trainers/prograd.py;
#   lambda: ProGrad.public/README.md line 52 (BeierZhu/Prompt-align)
model = dict(lambda_=0.8, prompt_learner=dict(template='a texture of {}.'))
values_by_shots = {'model.lambda_': {1: 1.0, 2: 1.0, 4: 1.0, 8: 0.8, 16: 0.8}}
