"""The toy segmentation config: its classes are the generator's, and it learns (a short
fitting run on a few generated images)."""
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmsdt.datasets import TOY_ADE_CLASSES, generate_toy_ade

REPO = Path(__file__).resolve().parents[2]
TOY = str(REPO / 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py')


def test_toy_classes_are_the_generators():
    cfg = Config.fromfile(TOY)
    assert tuple(cfg.classes) == TOY_ADE_CLASSES
    assert cfg.model.decode_head.num_classes == len(TOY_ADE_CLASSES)
    assert cfg.model.auxiliary_head.num_classes == len(TOY_ADE_CLASSES)


def test_toy_config_fits_a_few_images(tmp_path):
    """60 steps on the same 8 images (the committed recipe at its peak lr): the decode loss
    falls and the shapes on those images start to be labelled with their class."""
    root = tmp_path / 'ade'
    generate_toy_ade(str(root), num_train=8, num_val=1, seed=0)
    cfg = Config.fromfile(TOY)
    cfg.work_dir = str(tmp_path / 'work')
    # fit the plain samples: the copy-paste wrapper (tested in test_seg_copy_paste) makes every
    # draw a new mix, this check is about the model and the loss recipe
    mix = cfg.train_dataloader.dataset
    cfg.train_dataloader.dataset = mix.dataset
    cfg.train_dataloader.dataset.pipeline = mix.dataset.pipeline + [
        t for t in mix.pipeline if t['type'] == 'PackSegInputs']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    model.init_weights()
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    loader = iter(runner.build_dataloader(cfg.train_dataloader))
    batches = [next(loader) for _ in range(2)]
    model.train()
    losses = []
    for i in range(60):
        log = model.train_step(batches[i % 2], optim)
        assert {'decode.loss_ce', 'decode.loss_lovasz', 'aux.loss_ce'} <= set(log)
        losses.append(float(log['decode.loss_ce']))
    assert np.mean(losses[-6:]) < 0.5 * np.mean(losses[:2]), losses

    model.eval()
    correct = total = 0
    class_pixels = np.zeros(4, int)
    with torch.no_grad():
        for batch in batches:
            for sample in model.test_step(batch):
                gt = sample.gt_sem_seg.data[0]  # the resized (128-px) label map
                pred = sample.pred_sem_seg.data[None].float()  # at the original 256 px
                pred = torch.nn.functional.interpolate(pred, size=gt.shape, mode='nearest')[0, 0]
                shape = (gt > 0) & (gt < 255)  # circle / square / triangle pixels
                correct += int((pred[shape] == gt[shape]).sum())
                total += int(shape.sum())
                class_pixels += np.bincount(gt[shape].flatten().numpy(), minlength=4)[:4]
    # Labelling every shape pixel with the most frequent shape class scores `majority` (0.43 on
    # these images); an untrained model labels background (0). Measured after 60 steps: 0.67.
    majority = class_pixels.max() / total
    assert correct / total > majority + 0.1, (correct / total, majority)
