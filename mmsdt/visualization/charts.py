"""Pictures of per-layer spiking statistics (matplotlib, Agg backend, PNG files)."""
import os
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def _group_colours(groups: Sequence[str]) -> Dict[str, tuple]:
    cmap = plt.get_cmap('tab20')
    order = list(dict.fromkeys(groups))
    return {g: cmap(i % 20) for i, g in enumerate(order)}


def draw_layer_bars(path: str, names: Sequence[str], values: Sequence[float],
                    groups: Sequence[str], xlabel: str, title: str) -> str:
    """A horizontal bar per layer (top to bottom in the given order), coloured by group,
    with a legend of the groups; written as PNG to ``path``, which is returned."""
    colours = _group_colours(groups)
    height = max(3.0, 0.16 * len(names) + 1.2)
    fig, ax = plt.subplots(figsize=(9, height))
    ys = list(range(len(names)))[::-1]
    ax.barh(ys, values, color=[colours[g] for g in groups], height=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(names, fontsize=5 if len(names) > 60 else 7)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    handles = [matplotlib.patches.Patch(color=c, label=g) for g, c in colours.items()]
    ax.legend(handles=handles, fontsize=6, loc='lower right', ncol=2 if len(handles) > 12 else 1)
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def stage_group(name: str, depth: int = 2) -> str:
    """The first ``depth`` components of a module name (``backbone.block3``), without the
    block index, for grouping layers by stage / module."""
    parts = [p for p in name.split('.') if not p.isdigit()]
    return '.'.join(parts[:depth])


def group_names(names: List[str], depth: int = 2) -> List[str]:
    """:func:`stage_group` of every name."""
    return [stage_group(n, depth) for n in names]
