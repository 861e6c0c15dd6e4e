"""The event-camera detection configs (Gen1, 1Mpx, streaming Gen1, the toy) parse, build and
run one forward on frames of their own sensor size and T; the streaming config carries state
and streams recordings; the toy data set config reads the generated recordings."""
from pathlib import Path

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.structures import InstanceData

import mmsdt.models  # noqa: F401
from mmsdt.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p) for p in (REPO / 'configs/e-spikeformer/event-det').glob('*.py'))
TOY = sorted(str(p) for p in (REPO / 'configs/toy').glob('*toy-event-det*.py'))


def test_gen1_1mpx_streaming_and_toy_configs_are_there():
    names = [Path(p).name for p in CONFIGS]
    assert any('gen1' in n and 'stream' not in n for n in names)
    assert any('gen1-stream' in n for n in names)
    assert any('1mpx' in n for n in names)
    assert TOY


def _frames_and_samples(cfg, batch: int):
    width, height = cfg.sensor_size
    steps = cfg.model.data_preprocessor.num_frames
    samples = []
    for b in range(batch):
        sample = DetDataSample(metainfo=dict(
            img_shape=(height, width), ori_shape=(height, width), scale_factor=(1., 1.),
            recording=f'rec{b}', timestamp=600000, first_in_recording=True))
        sample.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.tensor([[10., 12., 60., 70.]])),
            labels=torch.tensor([0]))
        samples.append(sample)
    frames = [torch.randint(0, 3, (steps, 2, height, width)).float() for _ in range(batch)]
    return frames, samples


@pytest.mark.parametrize('path', CONFIGS + TOY, ids=lambda p: Path(p).stem)
def test_config_builds_and_runs_one_forward(path):
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.type == 'mmsdt.ESpikeFormer'
    assert cfg.model.backbone.in_channels == 2  # ON / OFF
    assert cfg.model.bbox_head.num_classes == len(cfg.classes)
    steps = cfg.model.data_preprocessor.num_frames
    bins = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'mmsdt.EventsToFrames']
    assert [t.num_bins for t in bins] == [steps]  # the data's T is the model's
    assert cfg.val_evaluator.type == 'mmsdt.PropheseeDetMetric'
    assert cfg.val_evaluator.skip_ts_us == 500000
    assert (cfg.val_evaluator.width, cfg.val_evaluator.height) == tuple(cfg.sensor_size)
    init_default_scope('mmdet')
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(0)
    frames, samples = _frames_and_samples(cfg, batch=1)
    data = model.data_preprocessor(dict(inputs=frames, data_samples=samples), True)
    assert data['inputs'].shape[:3] == (1, steps, 2)
    assert all(s % 32 == 0 for s in data['inputs'].shape[-2:])
    if cfg.sensor_size[0] * cfg.sensor_size[1] <= 304 * 240:  # 1Mpx: the forward below only
        model.train()
        losses = model(**data, mode='loss')
        assert {'loss_cls', 'loss_bbox'} <= set(losses)
        assert all(torch.isfinite(v if torch.is_tensor(v) else sum(v)) for v in losses.values())
    model.eval()
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert result.pred_instances.bboxes.shape[-1] == 4


def test_sizes_and_protocol_per_release():
    gen1 = Config.fromfile(next(p for p in CONFIGS if 'gen1-t4' in p))
    mpx = Config.fromfile(next(p for p in CONFIGS if '1mpx' in p))
    assert tuple(gen1.sensor_size) == (304, 240) and gen1.classes == ('car', 'pedestrian')
    assert (gen1.val_evaluator.min_box_diag, gen1.val_evaluator.min_box_side) == (30, 10)
    assert tuple(mpx.sensor_size) == (1280, 720)
    assert mpx.classes == ('pedestrian', 'two wheeler', 'car')
    assert (mpx.val_evaluator.min_box_diag, mpx.val_evaluator.min_box_side) == (60, 20)
    for cfg in (gen1, mpx):
        assert cfg.model.backbone.get('neuron_mode', 'stateless') == 'stateless'
        assert cfg.train_dataloader.dataset.clip_boxes  # real release files hold such boxes


def test_streaming_config_streams_recordings_and_carries_state():
    cfg = Config.fromfile(next(p for p in CONFIGS if 'stream' in p))
    assert cfg.model.type == 'mmsdt.StreamingRetinaNet'
    assert cfg.model.backbone.neuron_mode == 'stateful'
    train, val = cfg.train_dataloader, cfg.val_dataloader
    assert train.sampler.type == val.sampler.type == 'mmsdt.RecordingStreamSampler'
    assert train.sampler.num_streams == train.batch_size  # row b = stream b
    assert val.sampler.num_streams == val.batch_size == 1
    init_default_scope('mmdet')
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    frames, samples = _frames_and_samples(cfg, batch=1)
    data = model.data_preprocessor(dict(inputs=frames, data_samples=samples))
    with torch.no_grad():
        model(**data, mode='predict')
        carried = len(model.stream_state)
        samples[0].set_metainfo(dict(first_in_recording=False, timestamp=650000))
        model(**data, mode='predict')
    assert carried > 0 and len(model.stream_state) == carried


def test_toy_dataset_config_reads_generated_recordings(tmp_path):
    """The toy config's data set and pipeline on a small generated set: samples of the
    configured T, sensor size and classes reach the model."""
    import mmsdt.datasets  # noqa: F401
    from mmsdt.datasets.toy.event_det import generate_toy_event_det
    from mmsdt.registry import DATASETS
    cfg = Config.fromfile(TOY[0])
    generate_toy_event_det(str(tmp_path), num_train=1, num_val=1)
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.data_root = str(tmp_path) + '/'
    dataset = DATASETS.build(dataset_cfg)
    assert dataset.metainfo['classes'] == cfg.classes
    item = dataset[len(dataset) - 1]
    width, height = cfg.sensor_size
    assert tuple(item['inputs'].shape) == (cfg.model.data_preprocessor.num_frames, 2, height,
                                           width)
    assert item['inputs'].sum() > 0  # the objects move: the window holds events
    assert len(item['data_samples'].gt_instances) > 0
