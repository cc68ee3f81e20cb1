# ProGrad base-to-novel on StanfordCars, RN50: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel_rn50.py']

dataset = dict(type='CoOpStanfordCars')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
