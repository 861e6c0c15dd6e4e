"""Pictures of spiking statistics and predictions written as PNG files (matplotlib's object
API on Agg canvases; no global backend switch at import)."""
from .charts import draw_layer_bars, group_names, new_figure, save_figure, stage_group
from .event_det import draw_boxes_on_events, draw_event_detections
from .events import draw_event_grid, draw_event_time_steps, event_frame_rgb
from .grids import draw_image_grid

__all__ = [
    'draw_layer_bars', 'draw_image_grid', 'group_names', 'new_figure', 'save_figure',
    'stage_group', 'draw_event_grid', 'draw_event_time_steps', 'event_frame_rgb',
    'draw_event_detections', 'draw_boxes_on_events'
]
