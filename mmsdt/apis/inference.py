"""One-image inference through the stock mmdet / mmseg / mmpretrain Inferencers."""
import glob
import os
import os.path as osp
import tempfile
from typing import Iterator, List, Optional, Sequence, Tuple

import mmcv
import torch
from mmengine.config import Config
from torch import nn

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


def switch_off_autocast(module: nn.Module) -> List[str]:
    """Run every submodule with an ``autocast_dtype`` option (the E-SpikeFormer backbone) in
    float32 from now on; returns the names of the modules switched, ``''`` for ``module``.

    ``autocast_dtype='bfloat16'`` is a training-speed option (``tools/train.py --amp``). Tools
    whose result is an arithmetic statement rather than a prediction, the ONNX export (a
    float32 graph) and the spike-driven verification (integer mode against binary spike maps),
    run the model in float32 instead.
    """
    switched = []
    for name, sub in module.named_modules():
        if getattr(sub, 'autocast_dtype', None) is not None:
            sub.autocast_dtype = None
            switched.append(name)
    return switched


def build_inferencer(config: str, device: str = 'cpu', weights: Optional[str] = None,
                     classes: Optional[Sequence[str]] = None):
    """The stock Inferencer of a config's package (``default_scope`` mmdet -> ``DetInferencer``,
    mmseg -> ``MMSegInferencer``, mmpretrain -> ``ImageClassificationInferencer``) with its
    weights loaded strictly from ``weights`` (random initialisation without;
    :func:`mmsdt.utils.load_model_checkpoint`: every key, every shape, where the stock loaders
    only warn). A classifier's class names are ``classes``, else the checkpoint's
    ``meta.dataset_meta.classes``.

    Raises:
        FileNotFoundError: the config does not exist.
        ValueError: the config's scope is not one of the three.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    scope = Config.fromfile(config).get('default_scope')
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(model=config, weights=None, device=device,
                                   show_progress=False)
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        inferencer = MMSegInferencer(model=config, weights=None, device=device)
    elif scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = ImageClassificationInferencer(model=config, pretrained=False, device=device)
    else:
        raise ValueError(f'{config}: default_scope {scope!r} is not mmdet, mmseg or mmpretrain')
    if weights is not None:
        ckpt = load_model_checkpoint(inferencer.model, weights)
        if classes is None:
            classes = ckpt.get('meta', {}).get('dataset_meta', {}).get('classes')
    if scope == 'mmpretrain' and classes is not None:
        inferencer.classes = classes
    return inferencer


def preprocessed_batches(inferencer, images: Sequence, batch_size: int = 1) -> Iterator[dict]:
    """Collated data batches (``inputs``, ``data_samples``) of images (paths or BGR arrays),
    made by the inferencer's own pipeline, lazily; ready for ``model.test_step``,
    ``model.data_preprocessor`` or ``inferencer.forward``."""
    for batch in inferencer.preprocess(list(images), batch_size=batch_size):
        # mmdet's collate gives [original inputs, data]; mmseg / mmpretrain the data
        yield batch[1] if isinstance(batch, (list, tuple)) else batch


def dataset_images(config: str, num: int) -> Tuple[List[str], int]:
    """Paths of the first ``num`` images of a config's test set, and the set's size (so a
    caller can say when fewer than ``num`` exist)."""
    from mmengine.registry import DATASETS, init_default_scope
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope'))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return [dataset.get_data_info(i)['img_path'] for i in range(min(num, len(dataset)))], \
        len(dataset)


def predict_images(inferencer, images: Sequence[str], batch_size: int = 1) -> list:
    """The inferencer's ``DataSample`` predictions for image files, through its own
    ``preprocess`` / ``forward`` (what ``__call__`` does, without its progress bar, which
    leaves an unterminated line in logs)."""
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


def inference_image(image: str, config: str, weights: Optional[str] = None,
                    out_dir: str = 'outputs', device: str = 'cpu',
                    score_thr: float = 0.3, topk: int = 5) -> str:
    """Predict on ``image`` with ``config`` and save the drawing; returns its path.

    Detection configs (``default_scope='mmdet'``) go through ``DetInferencer`` (boxes and
    masks), segmentation configs (``'mmseg'``) through ``MMSegInferencer`` (overlay),
    classification configs (``'mmpretrain'``) through ``ImageClassificationInferencer``
    (the ``topk`` classes and scores written on the image, see :func:`classify_image`).

    Raises:
        FileNotFoundError: the image, config or checkpoint does not exist, or the image
            cannot be decoded.
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
    os.makedirs(out_dir, exist_ok=True)
    name = osp.splitext(osp.basename(image))[0]
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(model=config, weights=weights, device=device,
                                   show_progress=False)
        # an ndarray input makes the inferencer name the output by index; draw into a
        # temporary sub folder and give the file the image's name
        inferencer(img, out_dir=out_dir, pred_score_thr=score_thr, no_save_pred=True)
        drawn = sorted(glob.glob(osp.join(out_dir, 'vis', '*.jpg')), key=osp.getmtime)[-1]
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        inferencer = MMSegInferencer(model=config, weights=weights, device=device)
        inferencer(img, out_dir=out_dir, show=False)
        drawn = sorted(glob.glob(osp.join(out_dir, 'vis', '*')), key=osp.getmtime)[-1]
    elif scope == 'mmpretrain':
        target = osp.join(out_dir, f'{name}_pred.png')
        classify_image(image, config, weights=weights, device=device, topk=topk,
                       out_file=target)
        return target
    else:
        raise ValueError(f'{config}: default_scope {scope!r} is not mmdet, mmseg or '
                         f'mmpretrain')
    target = osp.join(out_dir, f'{name}_pred.png')
    mmcv.imwrite(mmcv.imread(drawn), target)
    return target
