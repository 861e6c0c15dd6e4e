"""One-image inference through the stock mmdet / mmseg Inferencers."""
import glob
import os
import os.path as osp
from typing import Optional

import mmcv
from mmengine.config import Config


def inference_image(image: str, config: str, weights: Optional[str] = None,
                    out_dir: str = 'outputs', device: str = 'cpu',
                    score_thr: float = 0.3) -> str:
    """Predict on ``image`` with ``config`` and save the drawing; returns its path.

    Detection configs (``default_scope='mmdet'``) go through ``DetInferencer`` (boxes and
    masks), segmentation configs (``'mmseg'``) through ``MMSegInferencer`` (overlay).

    Raises:
        FileNotFoundError: the image, config or checkpoint does not exist, or the image
            cannot be decoded.
        ValueError: the config's scope is neither mmdet nor mmseg.
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
    else:
        raise ValueError(f'{config}: default_scope {scope!r} is neither mmdet nor mmseg')
    target = osp.join(out_dir, f'{name}_pred.png')
    mmcv.imwrite(mmcv.imread(drawn), target)
    return target
