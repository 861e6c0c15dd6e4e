"""Firing rates of every spiking neuron over a whole val / test run, on all ranks."""
import json
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmsdt.registry import HOOKS
from mmsdt.snn import NeuronStats, SpikeRecorder
from mmsdt.visualization import draw_layer_bars, group_names


@HOOKS.register_module()
class FiringRateHook(Hook):
    """Record the integer spike counts of every :class:`~mmsdt.snn.MultiSpike` during the
    val and / or test loop and write, per neuron, over the whole evaluated data set: mean
    integer count ``E[s]``, firing rate ``E[s] / D``, non-zero rate ``P(s > 0)``, number of
    elements and spikes per image.

    Counts are summed over ranks (``all_reduce``), and the image count is the number of
    images the loop actually processed on all ranks. The forward hooks exist only while the
    loop runs. With a time axis (frames ``(B, T, C, H, W)``) an image is one sample of T
    frames: spikes per image are summed over its T steps, ``E[s]`` is per element and step,
    and the JSON's ``overall.time_steps`` gives T. Rank 0 writes
    ``firing_rates_<mode>.json`` and a bar chart ``firing_rates_<mode>.png`` (grouped by
    stage / module) into ``out_dir`` (default: the run's log dir) and logs the overall rate.
    Enable it with ``custom_hooks = [dict(type='mmsdt.FiringRateHook')]`` or
    ``tools/test.py --firing-rates``; it works for detection, segmentation and
    classification configs.

    Args:
        modes (Sequence[str]): loops to record, ``'val'`` and / or ``'test'``.
        out_dir (str, optional): where the files go (default: ``runner.log_dir``).
        prefix (str): only neurons whose qualified name starts with this.
    """
    priority = 'LOW'

    def __init__(self, modes: Sequence[str] = ('val', 'test'), out_dir: Optional[str] = None,
                 prefix: str = ''):
        unknown = set(modes) - {'val', 'test'}
        if unknown:
            raise ValueError(f'FiringRateHook modes must be "val" / "test", got {sorted(unknown)}')
        self.modes = tuple(modes)
        self.out_dir = out_dir
        self.prefix = prefix
        self._recorder: Optional[SpikeRecorder] = None
        self._images = 0

    # ------------------------------------------------------------------ recording
    def _start(self, runner, mode: str) -> None:
        if mode not in self.modes:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._recorder = SpikeRecorder(model, prefix=self.prefix)
        self._images = 0

    def _count(self, mode: str, data_batch) -> None:
        if self._recorder is None or mode not in self.modes:
            return
        samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
        inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
        self._images += len(samples) if samples is not None else len(inputs)

    def _finish(self, runner, mode: str) -> None:
        if self._recorder is None or mode not in self.modes:
            return
        recorder, self._recorder = self._recorder, None
        recorder.close()
        totals = torch.tensor([[st.calls, st.elements, st.spikes, st.nonzero]
                               for st in recorder.stats.values()], dtype=torch.float64)
        steps = max((st.time_steps for st in recorder.stats.values()), default=1)
        images = torch.tensor([float(self._images)], dtype=torch.float64)
        all_reduce(totals)
        all_reduce(images)
        if get_rank() != 0:
            return
        n_images = int(images.item())
        rows = []
        for (name, local), (calls, elements, spikes, nonzero) in zip(recorder.stats.items(),
                                                                     totals.tolist()):
            st = NeuronStats(max_value=local.max_value, calls=int(calls), elements=int(elements),
                             spikes=spikes, nonzero=int(nonzero))  # summed over ranks
            rows.append(dict(
                name=name, max_value=st.max_value, calls=st.calls, elements=st.elements,
                mean_count=st.mean_count, firing_rate=st.firing_rate,
                nonzero_rate=st.nonzero_rate,
                spikes_per_image=st.spikes / n_images if n_images else 0.0))
        all_elements = sum(r['elements'] for r in rows)
        overall = dict(
            images=n_images, neurons=len(rows), time_steps=steps,
            mean_count=sum(r['mean_count'] * r['elements'] for r in rows) / all_elements
            if all_elements else 0.0,
            firing_rate=sum(r['firing_rate'] * r['elements'] for r in rows) / all_elements
            if all_elements else 0.0)
        out_dir = self.out_dir or runner.log_dir
        json_path = osp.join(out_dir, f'firing_rates_{mode}.json')
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump(dict(overall=overall, neurons=rows), f, indent=1)
        ran = [r for r in rows if r['elements']]
        png_path = draw_layer_bars(
            osp.join(out_dir, f'firing_rates_{mode}.png'), [r['name'] for r in ran],
            [r['firing_rate'] for r in ran], group_names([r['name'] for r in ran]),
            'firing rate E[s] / D', f'firing rates over {n_images} {mode} images')
        over_t = f' (spikes summed over T = {steps} time steps)' if steps > 1 else ''
        runner.logger.info(f'firing rates over {n_images} images{over_t}: mean count '
                           f'{overall["mean_count"]:.4f}, firing rate '
                           f'{overall["firing_rate"]:.4f} ({len(rows)} neurons); written to '
                           f'{json_path} and {png_path}')

    # ------------------------------------------------------------------ hook points
    def before_val_epoch(self, runner) -> None:
        self._start(runner, 'val')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._count('val', data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish(runner, 'val')

    def before_test_epoch(self, runner) -> None:
        self._start(runner, 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._count('test', data_batch)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish(runner, 'test')
