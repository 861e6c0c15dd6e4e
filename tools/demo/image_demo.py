"""Run a detection, segmentation or classification config on one image and save the drawing.

    python tools/demo/image_demo.py IMAGE CONFIG [--weights CKPT] --out-dir DIR
                                    [--device cpu] [--score-thr 0.3] [--topk 5]

The config's ``default_scope`` picks the stock Inferencer: mmdet -> ``DetInferencer`` (boxes
and masks drawn), mmseg -> ``MMSegInferencer`` (coloured overlay), mmpretrain ->
``ImageClassificationInferencer`` (the top-k classes and scores written on the image). The
same from Python::

    from mmsdt.apis import inference_image
    inference_image('demo.jpg', CONFIG, weights=CKPT, out_dir='outputs')

The checkpoint is loaded strictly and safely (``mmsdt.apis.build_inferencer``): a missing,
unexpected or resized key, a truncated or empty file, or a pickle outside the allow-list is an
error naming the file and the key or fault; nothing is drawn from a partly random model.
Grayscale and RGBA files are read as 3-channel colour images; images smaller than the largest
feature stride are resized by the config's test pipeline as usual. Segmentation and
classification drawings of images whose short side is under 224 px are enlarged.
"""
import argparse
import os.path as osp
import sys

from mmsdt.apis import inference_image
from mmsdt.utils.quiet import hide_known_warnings


def main(argv=None) -> int:
    hide_known_warnings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='mmdet, mmseg or mmpretrain config file')
    parser.add_argument('--weights', help='checkpoint, loaded strictly; without it the model '
                        'is randomly initialised (a warning says so)')
    parser.add_argument('--out-dir', required=True, help='where drawn results go')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection score threshold')
    parser.add_argument('--topk', type=int, default=5, help='classes shown (classification)')
    args = parser.parse_args(argv)
    written = inference_image(args.image, args.config, weights=args.weights,
                              out_dir=args.out_dir, device=args.device,
                              score_thr=args.score_thr, topk=args.topk)
    print(f'wrote {written}')
    return 0


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
