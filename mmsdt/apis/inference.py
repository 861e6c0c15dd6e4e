"""One-image inference through the stock mmdet / mmseg / mmpretrain Inferencers."""
import copy
import functools
import glob
import os
import os.path as osp
import tempfile
from typing import Iterator, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from mmsdt.models.precision import switch_off_autocast  # noqa: F401 (mmsdt.apis API)
from mmsdt.utils import load_model_checkpoint


class TensorModeForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a one-argument module (the form that
    tracers, exporters and :func:`mmsdt.snn.verify_spike_driven` call): class scores of a
    classifier, decode-head logits of a segmentor, raw head outputs of a detector."""

    def __init__(self, model: nn.Module, data_samples=None):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, self.data_samples, mode='tensor')


class StrictWeightsInferencer:
    """Mixin for the stock mmdet / mmseg Inferencers: their ``weights`` are loaded by
    :func:`mmsdt.utils.load_model_checkpoint` (safe unpickler, every key, every shape) instead of
    mmengine's warn-only loader.

    The stock ``_load_weights_to_model`` still sets ``model.dataset_meta`` (class names,
    palette, in the package's order of priority) from the checkpoint's ``meta``, so the
    drawings are those of the stock path. A checkpoint without ``meta.dataset_meta`` (or the
    old ``CLASSES``) takes the config's test-set metainfo rather than the stock COCO /
    Cityscapes default. Without weights the stock random-initialisation warnings stay.

    Attributes:
        checkpoint (dict | None): the loaded checkpoint (e.g. its ``meta``).
    """

    def __init__(self, model, weights: Optional[str] = None, **kwargs):
        self.strict_weights = weights
        self.checkpoint = None
        super().__init__(model, weights=None, **kwargs)

    def _load_weights_to_model(self, model: nn.Module, checkpoint: Optional[dict],
                               cfg) -> None:
        if self.strict_weights is None:
            super()._load_weights_to_model(model, checkpoint, cfg)
            return
        self.checkpoint = load_model_checkpoint(model, self.strict_weights)
        meta = dict(self.checkpoint.get('meta') or {})
        if 'dataset_meta' not in meta and 'CLASSES' not in meta and cfg.get('test_dataloader'):
            meta['dataset_meta'] = config_dataset_meta(cfg)
        # the stock code reads only ``meta`` here; the tensors it is handed are the model's
        # own, already loaded strictly, so its load is a copy onto themselves
        super()._load_weights_to_model(model, dict(state_dict=model.state_dict(), meta=meta),
                                       cfg)


def config_dataset_meta(cfg) -> dict:
    """The metainfo (classes, palette) of a config's test data set, built lazily (no
    annotation file is read)."""
    from mmengine.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg['lazy_init'] = True
    return dict(DATASETS.build(dataset_cfg).metainfo)


@functools.lru_cache(maxsize=None)
def strict_inferencer_class(scope: str) -> type:
    """``DetInferencer`` (``scope='mmdet'``) or ``MMSegInferencer`` (``'mmseg'``) with
    :class:`StrictWeightsInferencer` loading (the packages are imported on first use)."""
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer as base
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer as base
    else:
        raise ValueError(f'no strict inferencer for scope {scope!r}')

    class Strict(StrictWeightsInferencer, base):
        """The stock Inferencer whose weights load strictly and safely."""

    Strict.__name__ = Strict.__qualname__ = f'Strict{base.__name__}'
    return Strict


def build_inferencer(config: str, device: str = 'cpu', weights: Optional[str] = None,
                     classes: Optional[Sequence[str]] = None):
    """The stock Inferencer of a config's package (``default_scope`` mmdet -> ``DetInferencer``,
    mmseg -> ``MMSegInferencer``, mmpretrain -> ``ImageClassificationInferencer``) with its
    weights loaded strictly from ``weights`` (random initialisation without;
    :func:`mmsdt.utils.load_model_checkpoint`: every key, every shape, read with the safe
    unpickler, where the stock loaders only warn). Every mmsdt entry point that draws or
    measures a model builds it here. Detectors and segmentors take their class names and
    palette from the checkpoint's ``meta.dataset_meta`` as the stock loaders do (else from the
    config's test set, see :class:`StrictWeightsInferencer`); a classifier's class names are
    ``classes``, else the checkpoint's ``meta.dataset_meta.classes``.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        mmsdt.utils.CheckpointError: the checkpoint is unreadable (truncated, empty, not a
            torch file), pickles a global outside the allow-list, or does not fit the model
            (the message names the file and the first missing / unexpected key, or the key
            and both shapes).
        ValueError: the config's scope is not one of the three.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    if weights is not None and not osp.isfile(weights):
        raise FileNotFoundError(f'checkpoint file not found: {weights}')
    scope = Config.fromfile(config).get('default_scope')
    if scope == 'mmdet':
        return strict_inferencer_class(scope)(model=config, weights=weights, device=device,
                                              show_progress=False)
    if scope == 'mmseg':
        return strict_inferencer_class(scope)(model=config, weights=weights, device=device)
    if scope != 'mmpretrain':
        raise ValueError(f'{config}: default_scope {scope!r} is not mmdet, mmseg or mmpretrain')
    from mmengine.registry import DefaultScope
    from mmpretrain.apis import ImageClassificationInferencer
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # its pipeline's registry too
        inferencer = ImageClassificationInferencer(model=config, pretrained=False,
                                                   device=device)
    if weights is not None:
        ckpt = load_model_checkpoint(inferencer.model, weights)
        if classes is None:
            classes = ((ckpt.get('meta') or {}).get('dataset_meta') or {}).get('classes')
    if classes is not None:
        inferencer.classes = classes
    return inferencer


def preprocessed_batches(inferencer, images: Sequence, batch_size: int = 1) -> Iterator[dict]:
    """Collated data batches (``inputs``, ``data_samples``) of images (paths or BGR arrays),
    made by the inferencer's own pipeline, lazily; ready for ``model.test_step``,
    ``model.data_preprocessor`` or ``inferencer.forward``."""
    for batch in inferencer.preprocess(list(images), batch_size=batch_size):
        # mmdet's collate gives [original inputs, data]; mmseg / mmpretrain the data
        yield batch[1] if isinstance(batch, (list, tuple)) else batch


# the generated toy sets' default folders and their tools/dataset_converters/make_toy_data.py kind
TOY_SETS = dict(toy_coco='coco', toy_ade='ade', toy_cls='cls', toy_dvs='dvs')
# what names a sample of a test set: an image file, an event recording, a HARDVS frame folder
SAMPLE_KEYS = ('img_path', 'events_path', 'frame_dir')


def _config(config) -> Config:
    return config if isinstance(config, Config) else Config.fromfile(config)


def _test_set(config: str):
    """The config's test data set, built in the config's scope.

    Raises:
        FileNotFoundError: see :func:`dataset_images`.
    """
    from mmengine.registry import DATASETS, init_default_scope
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope'))
    try:
        return DATASETS.build(cfg.test_dataloader.dataset)
    except FileNotFoundError as err:
        root = cfg.test_dataloader.dataset.get('data_root', '')
        kind = TOY_SETS.get(osp.basename(str(root).rstrip('/')))
        hint = (f'; make it with: python tools/dataset_converters/make_toy_data.py {kind} '
                f'--out {str(root).rstrip("/")}' if kind else
                '; point test_dataloader.dataset.data_root at your data')
        raise FileNotFoundError(f'{config}: the test set under {root!r} is missing ({err})'
                                f'{hint}') from err


def _sample_name(info: dict) -> str:
    for key in SAMPLE_KEYS:
        if info.get(key) is not None:
            return str(info[key])
    raise KeyError(f'a test-set sample has none of {SAMPLE_KEYS}: {sorted(info)}')


def dataset_images(config: str, num: int) -> Tuple[List[str], int]:
    """Paths of the first ``num`` samples of a config's test set (image files; the event
    recordings or HARDVS frame folders of an event-camera set), and the set's size (so a
    caller can say when fewer than ``num`` exist).

    Raises:
        FileNotFoundError: the test set's files are missing; the message names the config's
            data root and, for the generated toy sets, the command that makes them.
    """
    dataset = _test_set(config)
    return [_sample_name(dataset.get_data_info(i)) for i in range(min(num, len(dataset)))], \
        len(dataset)


def is_event_config(config) -> bool:
    """Whether a config's model takes event frames with a time axis ``(B, T, C, H, W)``: its
    data preprocessor is ``mmsdt.EventDataPreprocessor`` (``config``: a path or a Config)."""
    cfg = _config(config)
    pre = cfg.get('model', {}).get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    return str(pre.get('type', '')).split('.')[-1] == 'EventDataPreprocessor'


# the test-pipeline transforms that cut a recording into T frames, and their T argument(s)
FRAME_COUNT_KEYS = dict(EventsToFrames=('num_bins', 'event_bins'),
                        LoadHARDVSFrames=('clip_len', ))


def config_time_steps(config) -> int:
    """The T of an event config: its data preprocessor's ``num_frames``, else the frame
    count of its test pipeline (``EventsToFrames`` ``num_bins`` / ``event_bins``,
    ``LoadHARDVSFrames`` ``clip_len``).

    Raises:
        ValueError: neither gives T (e.g. frames cut by ``time_window``); the message names
            the config and the keys read.
    """
    cfg = _config(config)
    pre = cfg.get('model', {}).get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    if pre.get('num_frames'):
        return int(pre['num_frames'])
    for step in cfg.test_dataloader.dataset.get('pipeline', []):
        for key in FRAME_COUNT_KEYS.get(str(step.get('type', '')).split('.')[-1], ()):
            if step.get(key):
                return int(step[key])
    raise ValueError(f'{getattr(cfg, "filename", config)}: no T found: set '
                     f'model.data_preprocessor.num_frames (or EventsToFrames num_bins / '
                     f'event_bins in test_dataloader.dataset.pipeline)')


def dataset_batches(config: str, num: int) -> Tuple[Iterator[dict], List[str], int]:
    """The first ``num`` samples of a config's test set through the config's own test
    pipeline, one per batch, collated by the test loader's ``collate_fn`` (mmengine's
    ``pseudo_collate`` by default, as the Runner does): ready for ``model.test_step`` or
    ``model.data_preprocessor``. The path for event configs (:func:`is_event_config`), whose
    samples are recordings rather than image files.

    Returns:
        tuple: the batches (made lazily), the samples' names (:func:`dataset_images`) and
        the set's size.

    Raises:
        FileNotFoundError: see :func:`dataset_images`.
    """
    from mmengine.registry import FUNCTIONS
    cfg = Config.fromfile(config)
    dataset = _test_set(config)
    collate_cfg = copy.deepcopy(cfg.test_dataloader.get('collate_fn')
                                or dict(type='pseudo_collate'))
    collate = collate_cfg.pop('type')
    collate = functools.partial(FUNCTIONS.get(collate) if isinstance(collate, str) else collate,
                                **collate_cfg)
    count = min(num, len(dataset))
    names = [_sample_name(dataset.get_data_info(i)) for i in range(count)]
    return (collate([dataset[i]]) for i in range(count)), names, len(dataset)


def random_event_batch(model: nn.Module, time_steps: int, height: int, width: int,
                       seed: int = 0, rate: float = 0.5) -> dict:
    """One random sample of event frames ``(T, C, H, W)`` as a collated batch (``inputs``: a
    list of one tensor, no data samples) for ``model.test_step`` or
    ``model.data_preprocessor``: per pixel, channel and frame a Poisson event count of mean
    ``rate``, from a seeded generator. ``C`` is what the backbone's first convolution (the
    stem) takes, i.e. its ``in_channels``.

    Raises:
        ValueError: the model's backbone has no convolution, or T, H or W is not positive.
    """
    if min(time_steps, height, width) < 1:
        raise ValueError(f'event frames need T, H, W >= 1, got {time_steps}, {height}, {width}')
    backbone = getattr(model, 'backbone', model)
    stem = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    if stem is None:
        raise ValueError(f'{type(backbone).__name__} has no Conv2d: cannot tell its input '
                         f'channels')
    generator = torch.Generator().manual_seed(seed)
    shape = (time_steps, stem.in_channels, height, width)
    frames = torch.poisson(torch.full(shape, float(rate)), generator=generator)
    return dict(inputs=[frames], data_samples=None)


def predict_images(inferencer, images: Sequence[str], batch_size: int = 1) -> list:
    """The inferencer's ``DataSample`` predictions for images (paths or BGR arrays), through
    its own ``preprocess`` / ``forward`` (what ``__call__`` does, without its progress bar,
    which leaves an unterminated line in logs)."""
    return [sample for batch in preprocessed_batches(inferencer, images, batch_size)
            for sample in inferencer.forward(batch)]


def classify_image(image: str, config: str, weights: Optional[str] = None,
                   device: str = 'cpu', topk: int = 5, out_file: Optional[str] = None):
    """Classify ``image`` with a classification config through mmpretrain's
    ``ImageClassificationInferencer`` (:func:`build_inferencer`); optionally draw the top-k
    classes on it with the inferencer's visualizer. Images whose short side is under 224 px
    are drawn enlarged to 224 so the text stays readable.

    Returns:
        list[tuple[int, str | None, float]]: the top-k ``(class index, name, score)``.
    """
    inferencer = build_inferencer(config, device, weights)
    classes = inferencer.classes
    [sample] = predict_images(inferencer, [image])
    k = min(int(topk), sample.pred_score.numel())
    scores, labels = sample.pred_score.topk(k)
    top = [(int(i), classes[int(i)] if classes else None, float(p))
           for i, p in zip(labels, scores)]
    if out_file is not None:
        sample.set_pred_label(labels)  # the visualizer writes one line per label
        short = min(mmcv.imread(image, flag='color').shape[:2])
        with tempfile.TemporaryDirectory() as tmp:
            inferencer.visualize([image], [sample], show_dir=tmp,
                                 resize=224 if short < 224 else None)
            drawn = glob.glob(osp.join(tmp, '*.png'))[0]
            mmcv.imwrite(mmcv.imread(drawn), out_file)
    return top


MIN_DRAWN_SIDE = 224  # tiny images are drawn enlarged to at least this short side


def enlarged_for_drawing(image: np.ndarray, sample, min_side: int = MIN_DRAWN_SIDE):
    """``image`` and a segmentation ``sample``'s ``pred_sem_seg`` enlarged by the smallest whole
    factor that gives a short side of at least ``min_side`` (nearest neighbour: every pixel
    becomes a block, the label map stays aligned); unchanged when already that large.

    mmseg's visualizer writes class names at a size proportional to the image (unreadable
    on small images) and cannot index a 1x1 label map.
    """
    factor = -(-min_side // min(image.shape[:2]))
    if factor <= 1:
        return image, sample
    from mmengine.structures import PixelData
    labels = sample.pred_sem_seg.data
    enlarged = type(sample)(metainfo=sample.metainfo)
    enlarged.pred_sem_seg = PixelData(
        data=labels.repeat_interleave(factor, -2).repeat_interleave(factor, -1))
    return image.repeat(factor, 0).repeat(factor, 1), enlarged


def inference_image(image: str, config: str, weights: Optional[str] = None,
                    out_dir: str = 'outputs', device: str = 'cpu',
                    score_thr: float = 0.3, topk: int = 5) -> str:
    """Predict on ``image`` with ``config`` and save the drawing as ``OUT_DIR/NAME_pred.png``;
    returns its path.

    Detection configs (``default_scope='mmdet'``) go through ``DetInferencer`` (boxes and
    masks), segmentation configs (``'mmseg'``) through ``MMSegInferencer`` (overlay),
    classification configs (``'mmpretrain'``) through ``ImageClassificationInferencer``
    (the ``topk`` classes and scores written on the image, see :func:`classify_image`);
    all three built by :func:`build_inferencer` (strict, safe loading of ``weights``). The
    image is read as 3-channel colour (grayscale and RGBA files too) and drawn by the
    inferencer's own visualizer. Segmentation images whose short side is under 224 px are
    drawn enlarged (:func:`enlarged_for_drawing`), as classification images are.

    Raises:
        FileNotFoundError: the image, config or checkpoint does not exist, or the image
            cannot be decoded.
        mmsdt.utils.CheckpointError: the checkpoint is unreadable, unsafe or does not fit.
        ValueError: the config's scope is not mmdet, mmseg or mmpretrain.
    """
    for path, what in ((image, 'image'), (config, 'config')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    if weights is not None and not osp.isfile(weights):
        raise FileNotFoundError(f'checkpoint file not found: {weights}')
    img = mmcv.imread(image, flag='color')  # gray / RGBA -> 3-channel BGR
    if img is None:
        raise FileNotFoundError(f'cannot decode image {image}')
    scope = Config.fromfile(config).get('default_scope')
    if scope not in ('mmdet', 'mmseg', 'mmpretrain'):
        raise ValueError(f'{config}: default_scope {scope!r} is not mmdet, mmseg or '
                         f'mmpretrain')
    os.makedirs(out_dir, exist_ok=True)
    target = osp.join(out_dir, f'{osp.splitext(osp.basename(image))[0]}_pred.png')
    if scope == 'mmpretrain':
        classify_image(image, config, weights=weights, device=device, topk=topk,
                       out_file=target)
        return target
    inferencer = build_inferencer(config, device, weights)
    [sample] = predict_images(inferencer, [img])  # the pipeline takes BGR arrays
    rgb = img[:, :, ::-1]  # the visualizers draw on RGB
    if scope == 'mmdet':
        [drawn] = inferencer.visualize([rgb], [sample], return_vis=True, no_save_vis=True,
                                       pred_score_thr=score_thr)
    else:
        rgb, sample = enlarged_for_drawing(rgb, sample)
        [drawn] = inferencer.visualize([rgb], [sample], return_vis=True)
    mmcv.imwrite(drawn[:, :, ::-1], target)
    return target
