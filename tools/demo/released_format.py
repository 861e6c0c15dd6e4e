"""Write a model's weights in the layout of the released SDT-V3 ImageNet checkpoints.

The released files cannot be downloaded here; this writer gives the backbone demo
(``backbone_demo.py``) and the checkpoint tests (``tests/test_utils/test_checkpoint.py``) a
file that takes exactly the loading path the real ones take. It is a fixture, not library
API: mmsdt itself only reads this layout (``mmsdt.utils.load_backbone_checkpoint``).
"""
import argparse
import os
from typing import Optional, Union

import torch
from torch import nn


def save_released_format(model: nn.Module, path: Union[str, os.PathLike], epoch: int = 199,
                         args: Optional[argparse.Namespace] = None) -> None:
    """Write ``model``'s weights in the layout of the released ImageNet files.

    ``{'model': state_dict, 'optimizer': ..., 'epoch', 'scaler', 'args': Namespace}`` with the
    reference key names; the ``args`` Namespace is what makes a stock ``torch.load`` (with
    ``weights_only=True``) refuse the file.

    Args:
        model (nn.Module): The model whose ``state_dict`` is written (tensors are copied).
        path (str | os.PathLike): Output file.
        epoch (int): Value of the ``epoch`` entry.
        args (argparse.Namespace, optional): The ``args`` entry; by default a Namespace like
            the reference training script's.
    """
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if args is None:
        args = argparse.Namespace(model='Efficient_Spiking_Transformer', input_size=224,
                                  batch_size=256, blr=6e-4, weight_decay=0.05, epochs=200,
                                  drop_path=0.1, output_dir='./output', eval=True)
    torch.save(
        dict(model=sd, optimizer=dict(state={}, param_groups=[dict(lr=1e-6, params=[])]),
             epoch=epoch, scaler=dict(scale=65536.0, growth_factor=2.0, backoff_factor=0.5,
                                      growth_interval=2000, _growth_tracker=0),
             args=args), os.fspath(path))
