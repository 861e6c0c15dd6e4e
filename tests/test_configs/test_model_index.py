"""model-index.yml and the metafiles describe exactly the configs that exist, truthfully."""
import re
from pathlib import Path

import pytest
import torch
import yaml
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def _yaml(path):
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def _metafiles():
    return [REPO / p for p in _yaml(REPO / 'model-index.yml')['Import']]


def _models():
    return [(meta, model) for meta in _metafiles() for model in _yaml(meta)['Models']]


MODELS = _models()


def test_every_metafile_is_imported_and_exists():
    imported = _metafiles()
    assert all(p.is_file() for p in imported), imported
    found = {p for p in (REPO / 'configs').rglob('metafile.y*ml')}
    assert set(imported) == found
    assert len(imported) == len(set(imported))


def test_every_config_is_in_a_metafile():
    configs = {p.relative_to(REPO).as_posix() for p in (REPO / 'configs').rglob('*.py')
               if '_base_' not in p.parts}
    listed = [m['Config'] for _, m in MODELS]
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    assert configs == set(listed)


@pytest.mark.parametrize('meta,model', MODELS, ids=[m['Name'] for _, m in MODELS])
def test_model_entry(meta, model):
    path = REPO / model['Config']
    assert path.is_file(), model['Config']
    assert path.parent == meta.parent, 'a metafile lists only the configs of its folder'
    assert model['Name'] == path.stem
    collections = {c['Name'] for c in _yaml(meta)['Collections']}
    assert model['In Collection'] in collections
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.type in ('mmsdt.ESpikeFormer', 'mmsdt.ESpikeFormerLarge')
    meta_data = model['Metadata']
    # the name's `{gpus}xb{batch}-{schedule}` token, the config and the metafile agree
    token = next(t for t in path.stem.split('_') if re.fullmatch(r'\d+xb\d+-\d+[xeik]', t))
    gpus_batch, schedule = token.split('-')
    if schedule.endswith('x'):  # mmdet's 1x = 12 epochs
        assert cfg.train_cfg.max_epochs == meta_data['Epochs'] == 12 * int(schedule[:-1])
    elif schedule.endswith('e'):  # mmpretrain's 200e = 200 epochs
        assert cfg.train_cfg.max_epochs == meta_data['Epochs'] == int(schedule[:-1])
    else:
        iters = int(schedule[:-1]) * (1000 if schedule.endswith('k') else 1)
        assert cfg.train_cfg.max_iters == meta_data['Iterations'] == iters
    gpus, per_gpu = gpus_batch.split('xb')
    assert cfg.train_dataloader.batch_size == int(per_gpu)
    assert meta_data['Batch Size'] == int(gpus) * int(per_gpu)
    for result in model.get('Results', []):
        assert {'Task', 'Dataset', 'Metrics'} <= set(result)
        assert all(isinstance(v, (int, float)) for v in result['Metrics'].values())


def test_backbone_parameter_counts():
    """`Parameters (backbone)` is the real count of the configured backbone (arch, input
    channels, layer scale; no ImageNet head)."""
    from mmsdt.models import ESpikeFormer, ESpikeFormerLarge
    counts = {}
    for _, model in MODELS:
        backbone = Config.fromfile(str(REPO / model['Config'])).model.backbone
        large = backbone.type == 'mmsdt.ESpikeFormerLarge'
        shape_args = {k: backbone[k] for k in ('in_channels', 'layer_scale_init_value')
                      if backbone.get(k) is not None or (large and k in backbone)}
        arch = backbone.arch if isinstance(backbone.arch, str) else repr(
            sorted(backbone.arch.to_dict().items()))  # a dict arch (the narrow toy models)
        key = (arch, tuple(sorted(shape_args.items())))
        if key not in counts:
            if large:  # counted on the meta device: no 700 MB allocation for the 171M model
                with torch.device('meta'):
                    net = ESpikeFormerLarge(arch=backbone.arch, **shape_args)
            else:
                net = ESpikeFormer(arch=backbone.arch, **shape_args)
            counts[key] = sum(p.numel() for p in net.parameters())
        assert model['Metadata']['Parameters (backbone)'] == counts[key], model['Name']
    # docs/reference_numbers.md: params-2.7m, params-19m
    assert counts[('2.7m', ())] == 2573048 and counts[('19m', ())] == 18626504


def test_collections_are_complete_and_their_readmes_exist():
    for meta in _metafiles():
        for collection in _yaml(meta)['Collections']:
            assert {'Name', 'Metadata', 'Paper', 'README', 'Code'} <= set(collection)
            assert {'URL', 'Title'} <= set(collection['Paper'])
            assert (REPO / collection['Code']['URL']).is_file()
            assert (REPO / collection['README']).is_file(), collection['README']
