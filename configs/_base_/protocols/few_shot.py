# Few-shot classification: K shots per class of ALL classes, tested on the whole test
# split ('test/accuracy/top1'). K is 16 here; tools/train.py --shots K sets it (the
# protocol's K are 1, 2, 4, 8, 16). A dataset config adds the dataset type (its folder:
# data/<folder> from maple_mm/datasets/catalog.py, unless it sets data_root).
protocol = 'few_shot'
train_set = dict(split='train', subsample='all', num_shots=16, seed=1)
test_set = dict(split='test', subsample='all', num_shots=16, seed=1)
# MultiSetTestLoop with one set: it writes test_metrics.json for the results tables.
test_cfg = dict(type='MultiSetTestLoop', name='test')
