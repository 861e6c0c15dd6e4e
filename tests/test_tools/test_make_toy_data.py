"""tools/dataset_converters/make_toy_data.py: the command line of the toy-data writers."""
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_cli(tmp_path, capsys):
    path = REPO / 'tools' / 'dataset_converters' / 'make_toy_data.py'
    spec = importlib.util.spec_from_file_location('make_toy_data', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = str(tmp_path / 'cli')
    summary = module.main(['coco', '--out', out, '--num-train', '3', '--num-val', '2',
                           '--seed', '1'])
    text = capsys.readouterr().out
    assert 'train: 3/3' in text and 'toy coco generated' in text
    assert summary['splits']['val']['images'] == 2
    module.main(['coco', '--out', out, '--num-train', '3', '--num-val', '2', '--seed', '1'])
    assert 'up to date' in capsys.readouterr().out


def test_cli_dvs(tmp_path, capsys):
    path = REPO / 'tools' / 'dataset_converters' / 'make_toy_data.py'
    spec = importlib.util.spec_from_file_location('make_toy_data', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.main(['dvs', '--out', str(tmp_path / 'dvs'), '--num-train', '1',
                           '--num-val', '1'])
    text = capsys.readouterr().out
    assert 'train: 8/8 recordings' in text and 'toy dvs generated' in text
    assert 'val (Test): 8 recordings' in text
    assert summary['splits']['val']['events'] > 0


def test_cli_event_det(tmp_path, capsys):
    path = REPO / 'tools' / 'dataset_converters' / 'make_toy_data.py'
    spec = importlib.util.spec_from_file_location('make_toy_data', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / 'event_det'
    summary = module.main(['event-det', '--out', str(out), '--num-train', '1', '--num-val', '1'])
    text = capsys.readouterr().out
    assert 'train: 1/1 recordings' in text and 'toy event-det generated' in text
    assert 'val: 1 recordings, 39 label times' in text
    assert summary['sensor_size'] == (128, 96) and summary['splits']['train']['events'] > 0
    assert sorted(p.name for p in (out / 'val').iterdir()) == ['000000_bbox.npy',
                                                             '000000_td.dat']
