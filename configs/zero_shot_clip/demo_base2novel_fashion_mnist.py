# Demo: zero-shot CLIP on Fashion-MNIST's base and novel test sets with a random ViT-B/32
# (see ../_base_/demo_fashion_mnist.py); nothing is trained: tools/test.py CONFIG.
_base_ = ['../_base_/recipes/zero_shot_clip_base2novel.py', '../_base_/demo_fashion_mnist.py']

model = dict(backbone={{_base_.demo_backbone}})
test_dataloader = dict(num_workers=2, dataset={{_base_.demo_dataset}})
