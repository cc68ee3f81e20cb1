# Demo: ProGrad base-to-novel on Fashion-MNIST with a random ViT-B/32 (see
# ../_base_/demo_fashion_mnist.py): train on the 5 base classes with the method's
# recipe, then test the same prompts on base and novel classes (Base / Novel / HM).
_base_ = ['../_base_/recipes/prograd_base2novel.py', '../_base_/demo_fashion_mnist.py']

model = dict(backbone={{_base_.demo_backbone}})
train_dataloader = dict(num_workers=2, dataset={{_base_.demo_train_dataset}})
test_dataloader = dict(num_workers=2, dataset={{_base_.demo_dataset}})
