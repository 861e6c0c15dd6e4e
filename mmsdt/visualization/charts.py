"""Bar charts of per-layer spiking statistics (firing rates, energy per layer) as PNG files.

Drawn with matplotlib's object API on an Agg canvas (:func:`new_figure`): no global backend
is selected, so importing this module (training code does, through ``FiringRateHook``) leaves
matplotlib's backend as the user set it.
"""
import os
from typing import Dict, List, Sequence

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib ``Figure`` of ``width`` x ``height`` inches on its own Agg canvas (no
    pyplot, no global backend switch)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str, dpi: int) -> str:
    """Write ``fig`` as PNG to ``path`` (its folder is created); returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _group_colours(groups: Sequence[str]) -> Dict[str, tuple]:
    cmap = colormaps['tab20']
    order = list(dict.fromkeys(groups))
    return {g: cmap(i % 20) for i, g in enumerate(order)}


def draw_layer_bars(path: str, names: Sequence[str], values: Sequence[float],
                    groups: Sequence[str], xlabel: str, title: str) -> str:
    """A horizontal bar per layer (top to bottom in the given order), coloured by group,
    with a legend of the groups; written as PNG to ``path``, which is returned."""
    if not len(names) == len(values) == len(groups):
        raise ValueError(f'draw_layer_bars: {len(names)} names, {len(values)} values and '
                         f'{len(groups)} groups; one of each per layer')
    colours = _group_colours(groups)
    fig = new_figure(9, max(3.0, 0.16 * len(names) + 1.2))
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]
    ax.barh(ys, values, color=[colours[g] for g in groups], height=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(names, fontsize=5 if len(names) > 60 else 7)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    handles = [Patch(color=c, label=g) for g, c in colours.items()]
    ax.legend(handles=handles, fontsize=6, loc='lower right', ncol=2 if len(handles) > 12 else 1)
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def stage_group(name: str, depth: int = 2) -> str:
    """The first ``depth`` components of a module name (``backbone.block3``), without the
    block index, for grouping layers by stage / module."""
    parts = [p for p in name.split('.') if not p.isdigit()]
    return '.'.join(parts[:depth])


def group_names(names: List[str], depth: int = 2) -> List[str]:
    """:func:`stage_group` of every name."""
    return [stage_group(n, depth) for n in names]
