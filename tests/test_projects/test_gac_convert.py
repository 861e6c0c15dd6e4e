"""projects/gac: whole official GAC checkpoints converted and loaded strictly.

The synthetic files follow the official code's module names (bollossom/GAC at ed8130a,
``CODE/{CIFAR,ImageNet}/models/MS_ResNet.py``; reference notes gac.md §6.10); their key counts
are those of the official models' ``state_dict()`` (docs/reference_numbers.md). The converted
model's logits are compared in float64 with a forward written here from the official data flow
(gac.md §1-3), which reads the official keys directly.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch.nn import functional as F

from mmsdt.utils import CheckpointError, load_model_checkpoint, load_model_state
from projects.gac.gac import (MSResNet, config_target, convert_official_state_dict,
                              infer_official_variant, matching_configs)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'projects' / 'gac' / 'configs'
TOOL = REPO / 'tools' / 'model_converters' / 'gac_to_mmsdt.py'
DEPTHS = {'cifar18': (3, 3, 2), 'imagenet18': (2, 2, 2, 2), 'imagenet34': (3, 4, 6, 3)}


# ----------------------------------------------------------------------------- official files
def _bn(gen, c):
    return dict(weight=torch.rand(c, generator=gen, dtype=torch.float64) + 0.5,
                bias=torch.rand(c, generator=gen, dtype=torch.float64) * 0.6 - 0.1,
                running_mean=torch.randn(c, generator=gen, dtype=torch.float64) * 0.1,
                running_var=torch.rand(c, generator=gen, dtype=torch.float64) + 0.5,
                num_batches_tracked=torch.tensor(7))


def _conv(gen, o, i, k):
    w = torch.randn(o, i, k, k, generator=gen, dtype=torch.float64)
    return w * (2.0 / (i * k * k))**0.5


def official_state_dict(layout, arch, gac=True, T=6, num_classes=10, seed=0):
    """A random state dict with the official keys, shapes and aliases (one tensor per module,
    saved under each name the official model registers it with)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}

    def put(names, params):
        for name in names:
            sd.update({f'{name}.{p}': v for p, v in params.items()})

    def td_bn(name):  # CIFAR tdBatchNorm: the BN under .bn and .seqbn.module
        return [f'{name}.bn', f'{name}.seqbn.module']

    cifar = layout == 'cifar'
    if cifar:  # conv1 / bn1 also registered inside conv1_s (tdLayer)
        put(['conv1', 'conv1_s.layer.module'], dict(weight=_conv(gen, 64, 3, 3)))
        put(td_bn('bn1') + td_bn('conv1_s.bn'), _bn(gen, 64))
    else:
        put(['conv1.0'], dict(weight=_conv(gen, 64, 3, 7)))
        put(['conv1.1.bn'], _bn(gen, 64))
    if gac:
        ta = (torch.randn(T // 2, T, 1, 1, 1, generator=gen, dtype=torch.float64),
              torch.randn(T, T // 2, 1, 1, 1, generator=gen, dtype=torch.float64))
        put(['encoding.TA.sharedMLP.0'], dict(weight=ta[0]))
        put(['encoding.TA.sharedMLP.2'], dict(weight=ta[1]))
        put(['encoding.SCA.sharedMLP.0'], dict(weight=_conv(gen, 64, 64, 4) * 0.5))
        put(['encoding.SCA.sharedMLP.2'], dict(weight=_conv(gen, 64, 64, 4) * 0.5))
    widths = (128, 256, 512) if cifar else (64, 128, 256, 512)
    strides = (1, 2, 2) if cifar else (2, 2, 2, 2)
    in_ch = 64
    for s, (width, depth, stride) in enumerate(zip(widths, DEPTHS[arch], strides)):
        for b in range(depth):
            cin = in_ch if b == 0 else width
            down = b == 0 and (stride != 1 or cin != width)
            if cifar:
                p = f'layer{s + 1}.{b}'
                for i, ci in ((1, cin), (2, width)):
                    put([f'{p}.conv{i}', f'{p}.conv{i}_s.layer.module'],
                        dict(weight=_conv(gen, width, ci, 3)))
                    put(td_bn(f'{p}.bn{i}') + td_bn(f'{p}.conv{i}_s.bn'), _bn(gen, width))
                if down:
                    put([f'{p}.downsample.layer.module'], dict(weight=_conv(gen, width, cin, 1)))
                    put(td_bn(f'{p}.downsample.bn'), _bn(gen, width))
            else:
                p = f'conv{s + 2}_x.{b}'
                for i, ci in ((1, cin), (2, width)):
                    put([f'{p}.conv{i}'], dict(weight=_conv(gen, width, ci, 3)))
                    put([f'{p}.bn{i}.bn'], _bn(gen, width))
                if down:
                    put([f'{p}.shortcut.0'], dict(weight=_conv(gen, width, cin, 1)))
                    put([f'{p}.shortcut.1.bn'], _bn(gen, width))
        in_ch = width
    fc = dict(weight=torch.randn(num_classes, 512, generator=gen, dtype=torch.float64) * 0.1,
              bias=torch.randn(num_classes, generator=gen, dtype=torch.float64) * 0.1)
    put(['fc1', 'fc1_s.layer.module'], fc)
    return sd


@pytest.mark.parametrize('layout, arch, gac, want', [
    ('cifar', 'cifar18', True, 415), ('cifar', 'cifar18', False, 411),
    ('imagenet', 'imagenet18', True, 134), ('imagenet', 'imagenet34', True, 230),
])
def test_synthetic_files_have_the_official_key_counts(layout, arch, gac, want):
    """The official models' state_dict() lengths."""
    # docs/reference_numbers.md: gac-official-keys
    assert len(official_state_dict(layout, arch, gac, T=6 if layout == 'cifar' else 4)) == want


# ----------------------------------------------------------------------------- reference forward
def _bn_eval(sd, name, x):
    return F.batch_norm(x, sd[f'{name}.running_mean'], sd[f'{name}.running_var'],
                        sd[f'{name}.weight'], sd[f'{name}.bias'], False, 0.0, 1e-5)


def _lif(x, time_dim, decay, v_th):
    """u_t = decay * u_{t-1} * (1 - s_{t-1}) + x_t, s_t = u_t > v_th (both official codes)."""
    u, out = 0.0, []
    for t in range(x.shape[time_dim]):
        u = u * decay + x.select(time_dim, t)
        s = (u > v_th).to(x.dtype)
        u = u * (1 - s)
        out.append(s)
    return torch.stack(out, time_dim)


def official_forward(sd, layout, arch, T, image):
    """Logits of the official model (layout and ops of the official code) for ``image``."""
    cifar = layout == 'cifar'
    tdim = 1 if cifar else 0  # CIFAR code: [B, T, ...]; ImageNet code: [T, B, ...]
    decay, v_th = (0.5, 1.0) if cifar else (0.25, 0.5)

    def lif(x):
        return _lif(x, tdim, decay, v_th)

    def per_step(fn, x):
        y = fn(x.flatten(0, 1))
        return y.unflatten(0, x.shape[:2])

    x = image.unsqueeze(tdim).repeat_interleave(T, tdim)
    if cifar:
        cur = per_step(lambda z: _bn_eval(sd, 'bn1.bn', F.conv2d(z, sd['conv1.weight'],
                                                                 padding=1)), x)
    else:
        cur = per_step(lambda z: _bn_eval(sd, 'conv1.1.bn', F.conv2d(
            z, sd['conv1.0.weight'], stride=2, padding=3)), x)
    if 'encoding.TA.sharedMLP.0.weight' in sd:
        spikes = lif(cur)
        seq = cur if cifar else cur.transpose(0, 1)  # B, T, C, H, W

        def ta_mlp(pooled):  # Conv3d over the T "channels" of [B, T, 1, 1, 1]
            h = F.relu(F.conv3d(pooled, sd['encoding.TA.sharedMLP.0.weight']))
            return F.conv3d(h, sd['encoding.TA.sharedMLP.2.weight'])

        ta = ta_mlp(seq.mean((2, 3, 4), keepdim=True)) + ta_mlp(seq.amax((2, 3, 4), keepdim=True))
        sca = per_step(lambda z: F.conv2d(F.relu(F.conv2d(
            z, sd['encoding.SCA.sharedMLP.0.weight'], padding='same')),
            sd['encoding.SCA.sharedMLP.2.weight'], padding='same'), seq)
        gate = torch.sigmoid(ta * sca)
        cur = (gate if cifar else gate.transpose(0, 1)) * spikes
    x = cur
    strides = (1, 2, 2) if cifar else (2, 2, 2, 2)
    for s, (depth, stride) in enumerate(zip(DEPTHS[arch], strides)):
        for b in range(depth):
            p = f'layer{s + 1}.{b}' if cifar else f'conv{s + 2}_x.{b}'
            st = stride if b == 0 else 1
            y = per_step(lambda z: _bn_eval(sd, f'{p}.bn1.bn', F.conv2d(
                z, sd[f'{p}.conv1.weight'], stride=st, padding=1)), lif(x))
            y = per_step(lambda z: _bn_eval(sd, f'{p}.bn2.bn', F.conv2d(
                z, sd[f'{p}.conv2.weight'], padding=1)), lif(y))
            down = f'{p}.downsample' if cifar else f'{p}.shortcut'
            conv, norm = (('layer.module', 'bn.bn') if cifar else ('0', '1.bn'))
            if f'{down}.{conv}.weight' in sd:
                x = y + per_step(lambda z: _bn_eval(sd, f'{down}.{norm}', F.conv2d(
                    z, sd[f'{down}.{conv}.weight'], stride=st)), x)
            else:
                x = y + x
    feats = lif(x).mean((3, 4))
    logits = F.linear(feats, sd['fc1.weight'], sd['fc1.bias'])
    return logits.mean(tdim), feats


# ----------------------------------------------------------------------------- helpers
def _build(config):
    cfg = Config.fromfile(str(config))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        return MODELS.build(cfg.model)


def _config_variant(path):
    name = path.name
    in1k = name.endswith('in1k.py')
    return dict(layout='imagenet' if in1k else 'cifar',
                arch=('imagenet34' if 'msresnet34' in name else 'imagenet18') if in1k
                else 'cifar18', gac=name.startswith('gac-'),
                T=int(name.split('-t')[1].split('_')[0]),
                num_classes=1000 if in1k else int(name.split('cifar')[1].split('.')[0]))


# ----------------------------------------------------------------------------- conversion
@pytest.mark.parametrize('config', sorted(CONFIGS.glob('*.py')), ids=lambda p: p.name)
def test_every_config_loads_a_converted_official_file_strictly(config, tmp_path):
    """For each shipped config, a file of the matching official model converts (inferred and
    checked against the config's model) and loads into that model through the strict loader;
    every tensor is the official one, the TA MLP reshaped."""
    v = _config_variant(config)
    sd = official_state_dict(v['layout'], v['arch'], v['gac'], v['T'], v['num_classes'])
    variant = infer_official_variant(sd)
    assert variant == dict(layout=v['layout'], arch=v['arch'],
                           gate='learned' if v['gac'] else 'none',
                           time_steps=v['T'] if v['gac'] else None,
                           num_classes=v['num_classes'])
    assert config in [Path(p) for p in matching_configs(variant)]
    model = _build(config)
    inferred, _ = convert_official_state_dict(sd)
    converted, _ = convert_official_state_dict(sd, model.state_dict(), source='x.pth')
    assert list(converted) == list(model.state_dict()) == list(inferred)
    path = tmp_path / 'converted.pth'
    torch.save(dict(state_dict=converted), path)
    load_model_checkpoint(model, str(path))
    state = model.state_dict()
    prefix = 'layer2.1' if v['layout'] == 'cifar' else 'conv3_x.1'
    assert torch.equal(state['backbone.layers.1.1.bn2.running_var'],
                       sd[f'{prefix}.bn2.bn.running_var'].float())
    assert torch.equal(state['head.fc.weight'], sd['fc1.weight'].float())
    if v['gac']:
        assert torch.equal(state['backbone.encoder.ta_fc1.weight'],
                           sd['encoding.TA.sharedMLP.0.weight'].flatten(1).float())


@pytest.mark.parametrize('config, size', [
    ('gac-msresnet18-t6_1xb64-250e_cifar100.py', 16),
    ('msresnet18-t4_1xb64-250e_cifar10.py', 16),
    ('gac-msresnet18-t4_8xb32-250e_in1k.py', 64),
])
def test_converted_model_equals_the_official_forward_in_float64(config, size):
    v = _config_variant(CONFIGS / config)
    sd = official_state_dict(v['layout'], v['arch'], v['gac'], v['T'], v['num_classes'], seed=1)
    model = _build(CONFIGS / config).double().eval()
    converted, _ = convert_official_state_dict(sd, model.state_dict())
    load_model_state(model, dict(state_dict=converted), 'converted')
    torch.manual_seed(0)
    image = torch.randn(2, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        want, feats = official_forward(sd, v['layout'], v['arch'], v['T'], image)
        got = model(image, mode='tensor')
    assert 0.02 < feats.mean() < 0.98  # the last LIF fires, not always: a real comparison
    assert not torch.allclose(want[0], want[1])
    scale = want.abs().max().item()
    assert (got - want).abs().max().item() <= 1e-12 * scale


def test_backbone_init_cfg_loads_strictly(tmp_path):
    sd = official_state_dict('imagenet', 'imagenet18', True, T=4, num_classes=1000)
    converted, _ = convert_official_state_dict(sd)
    path = tmp_path / 'in1k.pth'
    torch.save(dict(state_dict=converted), path)
    init = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    backbone = MSResNet('imagenet18', time_steps=4, neuron='imagenet', init_cfg=init)
    backbone.init_weights()
    assert torch.equal(backbone.encoder.sca_conv2.weight,
                       sd['encoding.SCA.sharedMLP.2.weight'].float())
    wrong_t = MSResNet('imagenet18', time_steps=6, neuron='imagenet', init_cfg=init)
    with pytest.raises(CheckpointError, match=r'encoder\.ta_fc1\.weight.*\(2, 4\).*\(3, 6\)'):
        wrong_t.init_weights()


# ----------------------------------------------------------------------------- bad files
def _cifar_gac():
    return official_state_dict('cifar', 'cifar18', True, T=6, num_classes=100)


def test_a_missing_official_key_is_named():
    sd = _cifar_gac()
    del sd['layer2.1.bn2.bn.running_var']
    with pytest.raises(CheckpointError, match=r'1 missing official key\(s\) '
                       r'\[layer2\.1\.bn2\.bn\.running_var\]'):
        convert_official_state_dict(sd, source='c100.pth')
    sd = _cifar_gac()  # one alias of a tensor missing
    del sd['layer1.0.conv1_s.layer.module.weight']
    with pytest.raises(CheckpointError, match=r'layer1\.0\.conv1_s\.layer\.module\.weight'):
        convert_official_state_dict(sd)


def test_an_unknown_key_is_named():
    sd = dict(_cifar_gac(), **{'layer1.0.extra.weight': torch.zeros(3)})
    with pytest.raises(CheckpointError,
                       match=r'1 unexpected key\(s\) \[layer1\.0\.extra\.weight\]'):
        convert_official_state_dict(sd)


def test_a_wrong_shape_names_both_shapes():
    sd = official_state_dict('imagenet', 'imagenet18', True, T=4, num_classes=1000)
    sd['conv3_x.0.conv2.weight'] = torch.zeros(128, 128, 1, 1)
    with pytest.raises(CheckpointError, match=r'conv3_x\.0\.conv2\.weight has shape '
                       r'\(128, 128, 1, 1\), the model\'s backbone\.layers\.1\.0\.conv2\.weight '
                       r'\(128, 128, 3, 3\)'):
        convert_official_state_dict(sd)


def test_a_file_that_does_not_fit_the_config_is_refused():
    """A T=6 CIFAR-100 file against the T=4 config: the TA shapes; against CIFAR-10: the fc."""
    sd = _cifar_gac()
    for config, shapes in (('gac-msresnet18-t4_1xb64-250e_cifar100.py', r'\(3, 6\).*\(2, 4\)'),
                           ('gac-msresnet18-t6_1xb64-250e_cifar10.py',
                            r'\(100, 512\).*\(10, 512\)'),
                           ('msresnet18-t6_1xb64-250e_cifar100.py', 'unexpected.*encoding')):
        with pytest.raises(CheckpointError, match=shapes):
            convert_official_state_dict(sd, config_target(str(CONFIGS / config)))


def test_aliases_that_differ_are_refused():
    sd = _cifar_gac()
    sd['layer3.0.bn1.seqbn.module.weight'] = sd['layer3.0.bn1.bn.weight'] + 1
    with pytest.raises(CheckpointError, match=r'layer3\.0\.bn1\.bn\.weight .* and '
                       r'layer3\.0\.bn1\.seqbn\.module\.weight .*different values'):
        convert_official_state_dict(sd)


@pytest.mark.parametrize('sd, match', [
    ({'fc.weight': torch.zeros(2, 2)}, 'neither'),
    (dict(official_state_dict('cifar', 'cifar18', False),
          **{'conv2_x.0.conv1.weight': torch.zeros(1)}), 'both'),
    ({k: v for k, v in official_state_dict('cifar', 'cifar18', False).items()
      if not k.startswith('layer3.1.')}, r'blocks per stage'),
])
def test_unknown_or_ambiguous_files_are_refused(sd, match):
    with pytest.raises(CheckpointError, match=match):
        convert_official_state_dict(sd, source='weird.pth')


def test_strict_loader_names_the_converter_for_an_official_file(tmp_path):
    model = _build(CONFIGS / 'gac-msresnet18-t6_1xb64-250e_cifar10.py')
    path = tmp_path / 'official.pth'
    torch.save(official_state_dict('cifar', 'cifar18', True), path)
    with pytest.raises(CheckpointError, match='gac_to_mmsdt.py'):
        load_model_checkpoint(model, str(path))


# ----------------------------------------------------------------------------- the tool
def test_tool_converts_a_ddp_file_from_outside_the_repository(tmp_path):
    """The ImageNet script saves the DDP wrapper's keys (``module.``); the tool runs from any
    folder (it puts the repository root on sys.path itself) and writes a file tools/test.py's
    strict loader takes."""
    sd = official_state_dict('imagenet', 'imagenet34', True, T=4, num_classes=1000)
    src, dst = tmp_path / 'official.pth', tmp_path / 'out' / 'converted.pth'
    torch.save({f'module.{k}': v.float() for k, v in sd.items()}, src)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    res = subprocess.run([sys.executable, str(TOOL), str(src), str(dst)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert '230 official keys -> imagenet34, gate=learned, T=4, 1000 classes' in res.stdout
    assert 'projects/gac/configs/gac-msresnet34-t4_8xb32-250e_in1k.py' in res.stdout
    model = _build(CONFIGS / 'gac-msresnet34-t4_8xb32-250e_in1k.py')
    ckpt = load_model_checkpoint(model, str(dst))
    assert ckpt['meta']['arch'] == 'imagenet34' and ckpt['meta']['official_keys'] == 230
    del sd['conv5_x.2.conv1.weight']
    torch.save(sd, src)
    res = subprocess.run([sys.executable, str(TOOL), str(src), str(dst)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and 'conv5_x.2.conv1.weight' in res.stderr
