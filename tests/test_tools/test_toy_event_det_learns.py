"""make run TASK=event-det: the toy run learns (the toy config trained for 60 steps on a tiny
generated set detects its objects under the Prophesee protocol metric). tools/run_toy.py
--task event-det end to end: tests/test_tools/test_run_toy.py."""
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/toy/retinanet_e-spikeformer-2.7m-t2_spike-fpn_1xb8-600i_toy-event-det.py'


@pytest.fixture(scope='module')
def tiny_event_det(tmp_path_factory):
    from mmsdt.datasets.toy.event_det import generate_toy_event_det
    root = str(tmp_path_factory.mktemp('toy_event_det'))
    generate_toy_event_det(root, num_train=2, num_val=1, seed=0)
    return root


def _samples(cfg, root, split):
    from mmengine.dataset import pseudo_collate

    import mmsdt.datasets  # noqa: F401
    from mmsdt.registry import DATASETS
    dataset = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=root + '/',
                                  split=split))
    return dataset, pseudo_collate([dataset[i] for i in range(len(dataset))])


def _protocol_map50(model, cfg, dataset, batch):
    from mmsdt.evaluation import PropheseeDetMetric
    metric = PropheseeDetMetric(**{k: v for k, v in cfg.val_evaluator.items() if k != 'type'})
    metric.dataset_meta = dataset.metainfo
    model.eval()
    with torch.no_grad():
        for i in range(0, len(batch['inputs']), 16):
            part = {k: v[i:i + 16] for k, v in batch.items()}
            metric.process(part, [s.to_dict() for s in model.test_step(part)])
    model.train()
    return metric.evaluate(len(dataset))['event/mAP_50']


def test_toy_event_det_config_learns(tiny_event_det):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmsdt.registry import MODELS
    cfg = Config.fromfile(str(REPO / CONFIG))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        dataset, batch = _samples(cfg, tiny_event_det, 'train')
        assert len(dataset) == 2 * 39  # labels every 50 ms from 0.1 s to 2 s
        before = _protocol_map50(model, cfg, dataset, batch)
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
        rng = np.random.default_rng(0)
        steps = 60
        for step in range(steps):
            for group in optimizer.param_groups:  # short warm-up
                group['lr'] = 2e-3 * min(1.0, (step + 1) / 10)
            pick = rng.choice(len(dataset), 8, replace=False)
            data = model.data_preprocessor(
                dict(inputs=[batch['inputs'][i] for i in pick],
                     data_samples=[batch['data_samples'][i] for i in pick]), True)
            losses = model(**data, mode='loss')
            loss = sum(v if torch.is_tensor(v) else sum(v) for v in losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        after = _protocol_map50(model, cfg, dataset, batch)
    assert before < 0.05
    assert after > 0.5, f'mAP@0.5 {before:.3f} -> {after:.3f} after {steps} steps'
