"""The embedded default: toy data -> spiking model training -> evaluation -> pictures.

    python tools/run_toy.py [--task det|seg|cls|gac|dvs|sma|event-det] [--config CONFIG]
                            [--work-dir DIR]
                            [--data-root DIR] [--num-vis N] [--cfg-options k=v ...]

``det`` (default): the toy COCO set -> spiking Mask R-CNN (2.7m E-SpikeFormer, from scratch)
-> COCO bbox + segm evaluation (pycocotools, through mmdet's CocoMetric) -> predictions drawn
on val images with mmdet's DetInferencer. ``seg``: the ADE-style toy set -> spiking Semantic
FPN -> mIoU -> coloured overlays with mmseg's MMSegInferencer. ``cls``: the toy classification set
(ImageNet folder layout) -> the 2.7m E-SpikeFormer classifier on mmpretrain -> top-1 / top-5 ->
a grid of val images with predicted and true classes (mmpretrain's
ImageClassificationInferencer). ``dvs``: the toy event set (8 motion classes, DVS emulator,
N-MNIST layout) -> the 2.7m E-SpikeFormer with T = 4 frames -> top-1 / top-5 -> a grid of val
samples as ON / OFF frames with predicted and true classes, and the T frames of a few samples
side by side. ``sma``: spike-masked autoencoder pre-training of a narrow ESpikeFormerLarge on
the toy cls training images without labels, then the same fine-tuning on 10 % of the labels
from the pre-trained encoder and from scratch -> accuracy/top1 of both on toy val -> masked
input | reconstruction | original pictures (:func:`run_sma`). ``event-det``: toy event
recordings (moving cars / pedestrians through the DVS emulator, Gen1 layout, 128x96) -> spiking
RetinaNet with the 2.7m E-SpikeFormer on T event frames -> mAP / mAP@0.5 under the Prophesee
protocol (mmsdt.PropheseeDetMetric) -> detections drawn on ON / OFF event frames
(:func:`draw_event_detections`). Data are generated if missing;
a one-line summary is printed and ``summary.json`` written to the work dir.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import time
from typing import List, Optional

TASKS = {
    'det': dict(config='configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py',
                data_root='data/toy_coco', work_dir='work_dirs/toy_detection'),
    'seg': dict(config='configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py',
                data_root='data/toy_ade', work_dir='work_dirs/toy_segmentation'),
    'cls': dict(config='configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py',
                data_root='data/toy_cls', work_dir='work_dirs/toy_classification'),
    # projects/gac: the same classes at 32x32 (CIFAR size), GAC-MSResNet-18 at 1/8 width, T=4
    'gac': dict(
        config='projects/gac/configs/toy/gac-msresnet18-w8-t4_1xb32-1400i_toy-cls-32px.py',
        data_root='data/toy_cls32', work_dir='work_dirs/toy_gac'),
    'dvs': dict(config='configs/toy/e-spikeformer-2.7m-t4_1xb16-600i_toy-dvs-64px.py',
                data_root='data/toy_dvs', work_dir='work_dirs/toy_dvs'),
    # SMA pre-training on the toy cls images without labels, then fine-tuning (10 % labels)
    # from it and from scratch (FINETUNE_CONFIG); see run_sma
    'sma': dict(config='configs/toy/sma_e-spikeformer-large-narrow_1xb32-600i_toy-cls-64px.py',
                data_root='data/toy_cls', work_dir='work_dirs/toy_sma'),
    'event-det': dict(
        config='configs/toy/retinanet_e-spikeformer-2.7m-t2_spike-fpn_1xb8-600i_toy-event-det.py',
        data_root='data/toy_event_det', work_dir='work_dirs/toy_event_det'),
}
SMA_FINETUNE_CONFIG = 'configs/toy/e-spikeformer-large-narrow_1xb32-300i_toy-cls-10pct-64px.py'
SMA_LABEL_FRACTION = 0.1
# images (dvs: recordings, event-det: labelled windows) drawn by default
NUM_VIS = {'det': 6, 'seg': 6, 'cls': 24, 'gac': 24, 'dvs': 24, 'sma': 8, 'event-det': 8}
NUM_TIME_ROWS = 6  # dvs: samples whose T frames are drawn side by side

def step(i: int, n: int, text: str) -> None:
    print(f'[{i}/{n}] {text}', flush=True)


def prepare_data(task: str, data_root: str) -> str:
    """Generate the task's toy set under ``data_root`` unless it is there; say which."""
    from mmsdt.datasets import generate_toy_ade, generate_toy_cls, generate_toy_coco
    if task == 'dvs':
        from mmsdt.datasets import generate_toy_dvs
        summary = generate_toy_dvs(data_root)
        return ('generated' if summary['generated'] else 'reused') + ': ' + ', '.join(
            f'{split}: {info["recordings"]} recordings' for split, info in
            summary['splits'].items())
    if task == 'event-det':
        from mmsdt.datasets import generate_toy_event_det
        summary = generate_toy_event_det(data_root)
        return ('generated' if summary['generated'] else 'reused') + ': ' + ', '.join(
            f'{split}: {info["recordings"]} recordings, {info["labels"]} labelled timestamps'
            for split, info in summary['splits'].items())
    if task == 'gac':
        summary = generate_toy_cls(data_root, size=32)
    else:
        generate = dict(det=generate_toy_coco, seg=generate_toy_ade, cls=generate_toy_cls)[task]
        summary = generate(data_root)
    return ('generated' if summary['generated'] else 'reused') + ': ' + ', '.join(
        f'{split}: {info["images"]} images' for split, info in summary['splits'].items())


def wrapped_dataset(dataset_cfg):
    """The innermost data set of a wrapper config (``MultiImageMixDataset``, ``RepeatDataset``)."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def point_config_at(cfg, task: str, data_root: str) -> None:
    """Point every data set (inside its wrappers) and the COCO evaluators at ``data_root``."""
    root = data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        wrapped_dataset(cfg[loader].dataset).data_root = root
    if task == 'det':
        for evaluator in ('val_evaluator', 'test_evaluator'):
            cfg[evaluator].ann_file = root + 'annotations/instances_val.json'


def draw(task: str, config: str, ckpt: str, data_root: str, out_dir: str, num: int) -> str:
    """Draw the predictions of ``ckpt`` (loaded strictly, :func:`mmsdt.apis.build_inferencer`)
    on ``num`` val images; returns the folder (det, seg) or the picture (cls)."""
    if task not in ('det', 'seg'):
        return draw_classification(config, ckpt, data_root, out_dir, num)
    from mmsdt.apis import build_inferencer  # DetInferencer / MMSegInferencer, strict weights
    inferencer = build_inferencer(config, weights=ckpt)
    if task == 'det':
        images = sorted(glob.glob(osp.join(data_root, 'val', '*.jpg')))[:num]
        inferencer(images, out_dir=out_dir, pred_score_thr=0.5, no_save_pred=False)
    else:
        images = sorted(glob.glob(osp.join(data_root, 'images', 'validation', '*.jpg')))[:num]
        inferencer(images, out_dir=out_dir, show=False)
    return osp.join(out_dir, 'vis')


def draw_classification(config: str, ckpt: str, data_root: str, out_dir: str, num: int) -> str:
    """A grid of ``num`` val images (taken evenly over the classes) with the predicted class
    and score (green when right, red when wrong) and the true class; returns the PNG path."""
    import mmcv

    from mmsdt.apis import build_inferencer, predict_images
    from mmsdt.visualization import draw_image_grid
    classes = sorted(d for d in os.listdir(osp.join(data_root, 'val'))
                     if osp.isdir(osp.join(data_root, 'val', d)))
    per_class = [sorted(glob.glob(osp.join(data_root, 'val', c, '*'))) for c in classes]
    picked = [(files[i], c) for i in range(num) for c, files in zip(classes, per_class)
              if i < len(files)][:num]
    inferencer = build_inferencer(config, weights=ckpt, classes=classes)
    samples = predict_images(inferencer, [p for p, _ in picked], batch_size=32)
    labels = [int(sample.pred_score.argmax()) for sample in samples]
    captions = [f'{classes[label]} {float(sample.pred_score[label]):.2f}\n(true: {truth})'
                for label, sample, (_, truth) in zip(labels, samples, picked)]
    return draw_image_grid(
        osp.join(out_dir, 'val_predictions.png'),
        [mmcv.imread(path, channel_order='rgb') for path, _ in picked], captions,
        [classes[label] == truth for label, (_, truth) in zip(labels, picked)],
        'toy val: predicted class, score (true class)')


def draw_event_predictions(model, dataset, out_dir: str, num: int) -> str:
    """Predict ``num`` val samples (taken evenly over the classes) with ``model`` and draw
    them: ``val_predictions.png``, a grid of the samples' frames summed over T (ON red, OFF
    blue) with the predicted class and score (green when right, red when wrong) and the true
    class, and ``val_time_steps.png``, the T frames of the first samples side by side.
    Returns the folder."""
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate

    from mmsdt.visualization import draw_event_grid, draw_event_time_steps
    classes = dataset.metainfo['classes']
    labels = np.asarray(dataset.get_gt_labels())
    per_class = [np.nonzero(labels == c)[0] for c in range(len(classes))]
    picked = [int(idx[i]) for i in range(num) for idx in per_class if i < len(idx)][:num]
    batch = pseudo_collate([dataset[i] for i in picked])
    model.eval()
    with torch.no_grad():
        samples = model.test_step(batch)
    frames = [inputs.numpy() for inputs in batch['inputs']]
    preds = [int(sample.pred_score.argmax()) for sample in samples]
    truths = [int(sample.gt_label) for sample in samples]
    captions = [f'{classes[p]} {float(sample.pred_score[p]):.2f}\n(true: {classes[t]})'
                for p, t, sample in zip(preds, truths, samples)]
    draw_event_grid(osp.join(out_dir, 'val_predictions.png'), frames, captions,
                    [p == t for p, t in zip(preds, truths)],
                    'toy dvs val (frames summed over T; ON red, OFF blue): predicted class, '
                    'score (true class)')
    rows = min(NUM_TIME_ROWS, len(frames))
    draw_event_time_steps(osp.join(out_dir, 'val_time_steps.png'), frames[:rows],
                          [f'{classes[t]}\n(pred: {classes[p]})'
                           for p, t in zip(preds[:rows], truths[:rows])],
                          f'toy dvs val: the T = {frames[0].shape[0]} frames of each sample')
    return out_dir


def draw_event_detections(model, dataset, out_dir: str, num: int,
                          score_thr: float = 0.3) -> str:
    """Predict ``num`` val samples after the protocol's skip time (spread over the
    recordings) with ``model`` and draw the detections (score >= ``score_thr``) and the
    ground-truth boxes on their ON / OFF event frames: ``val_detections.png``. Returns it."""
    import torch
    from mmengine.dataset import pseudo_collate

    from mmsdt.visualization.event_det import draw_event_detections as draw
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    late = [i for i, info in enumerate(infos) if info['timestamp'] > 500000] or list(
        range(len(infos)))
    stride = max(1, len(late) // num)
    picked = late[stride // 2::stride][:num]
    batch = pseudo_collate([dataset[i] for i in picked])
    model.eval()
    with torch.no_grad():
        samples = model.test_step(batch)
    preds = [dict(bboxes=s.pred_instances.bboxes.numpy(), scores=s.pred_instances.scores.numpy(),
                  labels=s.pred_instances.labels.numpy()) for s in samples]
    truths = [dict(bboxes=s.gt_instances.bboxes.tensor.numpy()
                   if hasattr(s.gt_instances.bboxes, 'tensor') else s.gt_instances.bboxes.numpy(),
                   labels=s.gt_instances.labels.numpy()) for s in batch['data_samples']]
    captions = [f'{infos[i]["recording"]} @ {infos[i]["timestamp"] / 1e6:.2f} s' for i in picked]
    os.makedirs(out_dir, exist_ok=True)
    return draw(osp.join(out_dir, 'val_detections.png'),
                [inputs.numpy() for inputs in batch['inputs']], preds, truths,
                dataset.metainfo['classes'],
                f'toy event-det val: detections (score >= {score_thr}) and ground truth on '
                'ON / OFF event frames', score_thr=score_thr, captions=captions)


def train_and_test(cfg, work_dir: str, test: bool = True):
    """Train ``cfg`` in ``work_dir`` (evaluation once, after training), load the saved
    checkpoint strictly and test it; returns (runner, checkpoint, metrics, training s)."""
    from mmengine.model import is_model_wrapper

    from mmsdt.utils import load_model_checkpoint
    from mmsdt.utils.launch import build_runner, last_saved_checkpoint
    from mmsdt.utils.quiet import hide_known_warnings
    cfg.work_dir = work_dir
    if test:
        cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
        cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    runner = build_runner(cfg)
    hide_known_warnings(runner.logger)
    t_train = time.time()
    runner.train()
    t_train = time.time() - t_train
    ckpt = last_saved_checkpoint(runner)
    metrics = None
    if test:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        load_model_checkpoint(model, ckpt, logger=runner.logger)
        metrics = runner.test()
    return runner, ckpt, metrics, t_train


def draw_sma_reconstructions(model, data_root: str, out: str, num: int) -> str:
    """Reconstruct ``num`` toy val images (taken evenly over the classes) with the SMA model
    (a fixed mask seed) and draw masked input | reconstruction | original; returns the PNG."""
    import mmcv
    import torch

    from mmsdt.visualization.reconstruction import draw_reconstruction_grid, to_uint8_images
    classes = sorted(d for d in os.listdir(osp.join(data_root, 'val'))
                     if osp.isdir(osp.join(data_root, 'val', d)))
    per_class = [sorted(glob.glob(osp.join(data_root, 'val', c, '*'))) for c in classes]
    paths = [files[i] for i in range(num) for files in per_class if i < len(files)][:num]
    images = torch.stack([torch.from_numpy(mmcv.imread(p)).permute(2, 0, 1) for p in paths])
    preprocessor = model.data_preprocessor
    inputs = preprocessor(dict(inputs=images, data_samples=None), training=False)['inputs']
    model.eval()
    generator = model.generator
    model.generator = torch.Generator().manual_seed(0)
    out_images = model.reconstruct(inputs)
    model.generator = generator
    mean, std = preprocessor.mean.flatten().tolist(), preprocessor.std.flatten().tolist()
    pictures = [to_uint8_images(out_images[k], mean, std)
                for k in ('masked', 'reconstruction')] + [to_uint8_images(inputs, mean, std)]
    ratio = model.mask_ratio
    return draw_reconstruction_grid(
        out, *pictures, f'toy val, SMA pre-training ({ratio:.0%} of the 16 px patches masked; '
        'masked patches predicted, visible ones as given)')


def run_sma(config: str, work_dir: str, data_root: str, num_vis: int,
            cfg_options: Optional[dict]) -> int:
    """``--task sma``: SMA pre-training on the toy cls training images without labels, then
    the same fine-tuning on 10 % of the labels from the pre-trained encoder and from scratch;
    both evaluated on the toy val split (accuracy/top1), the reconstructions drawn."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmsdt.datasets.toy.label_subset import write_label_subset
    from mmsdt.models.selfsup import convert_sma_checkpoint
    from mmsdt.registry import MODELS
    n, t0 = 6, time.time()
    step(1, n, f'toy data in {data_root}')
    print(f'      {prepare_data("cls", data_root)}', flush=True)
    subset = write_label_subset(data_root, SMA_LABEL_FRACTION)
    print(f'      labelled subset: {subset["images"]} images ({subset["per_class"]}) in '
          f'{subset["path"]}', flush=True)

    def load(path: str):
        cfg = Config.fromfile(path)
        root = data_root.rstrip('/') + '/'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(loader):
                cfg[loader].dataset.data_root = root
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        return cfg

    pre_cfg = load(config)
    step(2, n, f'SMA pre-training {osp.basename(config)} for {pre_cfg.train_cfg.max_iters} '
         f'iterations (batch {pre_cfg.train_dataloader.batch_size}, no labels)')
    pre_runner, pre_ckpt, _, t_pre = train_and_test(pre_cfg, osp.join(work_dir, 'pretrain'),
                                                    test=False)

    ft_cfg = load(SMA_FINETUNE_CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(ft_cfg.model.backbone)
    encoder = osp.join(work_dir, 'pretrain', 'sma_encoder_for_finetune.pth')
    meta = convert_sma_checkpoint(pre_ckpt, backbone, encoder)
    print(f'      encoder -> {encoder}: layer scales added explicitly '
          f'({len(meta["sma_added_keys"])} tensors from layer_scale_init_value)', flush=True)

    results = {}
    for i, (name, init) in enumerate((('scratch', None), ('sma', encoder))):
        cfg = load(SMA_FINETUNE_CONFIG)
        if init is not None:
            cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=init,
                                               prefix='backbone.')
        step(3 + i, n, f'fine-tuning {"from the SMA encoder" if init else "from scratch"}: '
             f'{osp.basename(SMA_FINETUNE_CONFIG)} for {cfg.train_cfg.max_iters} iterations')
        _, ckpt, metrics, t_ft = train_and_test(cfg, osp.join(work_dir, f'finetune_{name}'))
        results[name] = dict(top1=round(float(metrics['accuracy/top1']) / 100, 4),
                             train_minutes=round(t_ft / 60, 2), checkpoint=ckpt)

    step(5, n, f'reconstructions of {num_vis} val images')
    picture = draw_sma_reconstructions(pre_runner.model, data_root,
                                       osp.join(work_dir, 'reconstruction.png'), num_vis)

    step(6, n, 'summary')
    gain = results['sma']['top1'] - results['scratch']['top1']
    result = dict(task='sma', labelled_fraction=SMA_LABEL_FRACTION,
                  pretrain_iterations=pre_cfg.train_cfg.max_iters,
                  pretrain_minutes=round(t_pre / 60, 2), finetune=results,
                  gain_points=round(100 * gain, 1), reconstruction=picture,
                  total_minutes=round((time.time() - t0) / 60, 2))
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(f'toy sma: accuracy/top1 from scratch {results["scratch"]["top1"]:.3f}, '
          f'SMA-pretrained {results["sma"]["top1"]:.3f} ({100 * gain:+.1f} points; '
          f'{SMA_LABEL_FRACTION:.0%} of the labels); pre-train {t_pre / 60:.1f} min, total '
          f'{result["total_minutes"]:.1f} min; reconstructions in {picture}', flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    from mmsdt.utils.quiet import hide_known_warnings
    hide_known_warnings()
    from mmengine.config import Config, DictAction
    from mmengine.model import is_model_wrapper

    from mmsdt.utils import load_model_checkpoint
    from mmsdt.utils.launch import build_runner, last_saved_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='det')
    parser.add_argument('--config')
    parser.add_argument('--work-dir')
    parser.add_argument('--data-root')
    parser.add_argument('--num-vis', type=int, help='val images (dvs: recordings) to draw '
                        '(default det / seg 6, cls / gac / dvs 24)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    defaults = TASKS[args.task]
    config = args.config or defaults['config']
    work_dir = args.work_dir or defaults['work_dir']
    data_root = args.data_root or defaults['data_root']
    num_vis = args.num_vis if args.num_vis is not None else NUM_VIS[args.task]
    n, t0 = 5, time.time()
    if args.task == 'sma':
        return run_sma(config, work_dir, data_root, num_vis, args.cfg_options)

    step(1, n, f'toy data in {data_root}')
    print(f'      {prepare_data(args.task, data_root)}', flush=True)

    cfg = Config.fromfile(config)
    point_config_at(cfg, args.task, data_root)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = work_dir
    # evaluate once, after training (runner.test), not also inside the train loop (mmengine's
    # IterBasedTrainLoop validates at the last iteration unless val_begin lies beyond it)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    step(2, n, f'training {osp.basename(config)} for {cfg.train_cfg.max_iters} iterations '
         f'(batch {cfg.train_dataloader.batch_size}); log and checkpoints in {work_dir}')
    runner = build_runner(cfg)
    hide_known_warnings(runner.logger)  # the current MMLogger from here on
    t_train = time.time()
    runner.train()
    t_train = time.time() - t_train
    ckpt = last_saved_checkpoint(runner)

    step(3, n, 'evaluation on toy val')
    # Evaluate what was saved (and is drawn below): runner.test() rebuilds an EMAHook's copy
    # from the model's current weights, which after training are the raw, not the averaged ones.
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    load_model_checkpoint(model, ckpt, logger=runner.logger)
    metrics = runner.test()

    step(4, n, f'drawing predictions on {num_vis} val images')
    if args.task == 'dvs':  # the tested model (checkpoint weights) on the test data set
        vis_dir = draw_event_predictions(model, runner.test_dataloader.dataset,
                                         osp.join(work_dir, 'predictions'), num_vis)
    elif args.task == 'event-det':
        vis_dir = draw_event_detections(model, runner.test_dataloader.dataset,
                                        osp.join(work_dir, 'predictions'), num_vis)
    else:
        vis_dir = draw(args.task, config, ckpt, data_root, osp.join(work_dir, 'predictions'),
                       num_vis)

    step(5, n, 'summary')
    if args.task == 'det':
        scores = dict(bbox_mAP=metrics['coco/bbox_mAP'], bbox_mAP_50=metrics['coco/bbox_mAP_50'],
                      segm_mAP=metrics['coco/segm_mAP'], segm_mAP_50=metrics['coco/segm_mAP_50'])
    elif args.task == 'seg':  # mmseg reports percentages
        scores = dict(mIoU=metrics['mIoU'] / 100, aAcc=metrics['aAcc'] / 100)
    elif args.task == 'event-det':  # the Prophesee protocol (mmsdt.PropheseeDetMetric)
        scores = {k: metrics[f'event/{k}'] for k in ('mAP_50', 'mAP', 'mAP_75')}
    elif args.task == 'dvs':  # mmpretrain's metric names, as fractions
        scores = {k: metrics[k] / 100 for k in ('accuracy/top1', 'accuracy/top5')}
    else:  # so does mmpretrain
        scores = {'top-1': metrics['accuracy/top1'] / 100,
                  'top-5': metrics['accuracy/top5'] / 100}
    scores = {k: round(float(v), 4) for k, v in scores.items()}
    result = dict(task=args.task, **scores, iterations=cfg.train_cfg.max_iters,
                  train_minutes=round(t_train / 60, 2),
                  total_minutes=round((time.time() - t0) / 60, 2), checkpoint=ckpt,
                  predictions=vis_dir)
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(result, f, indent=1)
    shown = ', '.join(f'{k} {v:.3f}' for k, v in scores.items())
    print(f'toy {args.task}: {shown} after {result["iterations"]} iterations; train '
          f'{result["train_minutes"]:.1f} min, total {result["total_minutes"]:.1f} min; '
          f'pictures in {vis_dir}', flush=True)
    return 0


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
