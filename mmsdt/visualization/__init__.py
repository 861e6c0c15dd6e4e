"""Pictures of spiking statistics (firing rates, energy per layer) written as PNG files."""
from .charts import draw_layer_bars, group_names, stage_group

__all__ = ['draw_layer_bars', 'group_names', 'stage_group']
