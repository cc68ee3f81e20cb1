# Base-to-novel generalisation (docs/benchmarks.md; reference scripts/*/base2new_*.sh): train on the
# base half of the classes,
# 16 shots per class; one run then tests the final weights on the base and on the novel
# classes of the test split (with the novel class names) and reports Base, Novel and HM.
# The few-shot draw (seed 1 unless --seed) decides the classes, so the test sets name it too.
# A dataset config adds the dataset type to train_set and test_set; it reads data/<folder>
# (its record in maple_mm/datasets/catalog.py) unless it sets data_root.
protocol = 'base2novel'
train_set = dict(split='train', subsample='base', num_shots=16, seed=1)
test_set = dict(split='test', subsample='base', num_shots=16, seed=1)
test_cfg = dict(
    type='MultiSetTestLoop', name='base', extra_sets=dict(novel=dict(subsample='novel')))
