# PromptSRC few-shot on DTD: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/promptsrc_few_shot.py']

dataset = dict(type='CoOpDTD')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# Source: the GPA the few-shot config names for StanfordCars, Flowers102, FGVCAircraft, DTD and
#   EuroSAT (muzairkhattak/PromptSRC)
default_hooks = dict(gpa={{_base_.fine_grained_gpa}})
