"""mmsdt.SafeRunner and mmsdt.AtomicCheckpointHook on a tiny model (seconds, CPU): automatic
resume from the newest intact checkpoint, damaged checkpoints, strict and safe load_from /
resume, crash-safe saving."""
import errno
import logging
import os
import pickle
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import BaseModel
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

from mmsdt.engine import AtomicCheckpointHook, SafeRunner
from mmsdt.utils import CheckpointError

_g = torch.Generator().manual_seed(0)
# more samples than any run here consumes (mmengine sleeps 2 s when a loader restarts)
DATA = [dict(x=torch.randn(3, generator=_g), y=torch.randn(1, generator=_g)) for _ in range(100)]


class _Tiny(BaseModel):
    """A linear regressor behind a BN layer (a ``num_batches_tracked`` buffer, as real models)."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3)
        self.fc = nn.Linear(3, 1)

    def forward(self, x, y=None, mode='loss'):
        return dict(loss=(self.fc(self.bn(x)) - y).pow(2).mean())


class _RecordStart(Hook):
    """Remembers the iteration training starts from (after any resume)."""

    def before_train(self, runner):
        self.start_iter = runner.iter


def _runner(work_dir, max_iters, runner_cls=SafeRunner, resume=False, load_from=None,
            interval=10, max_keep_ckpts=-1, checkpoint_type='CheckpointHook', hooks=()):
    torch.manual_seed(0)  # the same initial weights for every run
    return runner_cls(
        model=_Tiny(), work_dir=str(work_dir), experiment_name=f'safe_runner_{uuid.uuid4().hex}',
        train_dataloader=DataLoader(DATA, batch_size=2, shuffle=False),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type=checkpoint_type, interval=interval, by_epoch=False,
                                           max_keep_ckpts=max_keep_ckpts), logger=None),
        custom_hooks=[_RecordStart(), *hooks], resume=resume, load_from=load_from,
        randomness=dict(seed=0))


def _start_iter(runner):
    return [h for h in runner.hooks if isinstance(h, _RecordStart)][0].start_iter


class _Messages(logging.Handler):
    """Collects what a runner's logger says."""

    def __init__(self, runner):
        super().__init__(logging.INFO)
        self.lines = []
        runner.logger.addHandler(self)

    def emit(self, record):
        self.lines.append(record.getMessage())

    def text(self):
        return '\n'.join(self.lines)


def _files(folder):
    """The checkpoint-related files of a work dir (not the dumped config, not log folders)."""
    return sorted(p.name for p in Path(folder).iterdir() if p.is_file() and p.suffix != '.py')


def _weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    """The weights of a run straight to iteration 40."""
    runner = _runner(tmp_path_factory.mktemp('straight'), 40)
    runner.train()
    return _weights(runner)


@pytest.fixture
def trained_30(tmp_path):
    """A work dir after 30 iterations: iter_10, iter_20, iter_30 and last_checkpoint."""
    work = tmp_path / 'work'
    _runner(work, 30).train()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_30.pth')
    return work


# --- automatic resume -------------------------------------------------------------------------

def test_resume_without_pointer_continues_from_the_newest(trained_30, uninterrupted):
    """The issue's case: iter_20 and iter_30 but no last_checkpoint."""
    (trained_30 / 'last_checkpoint').unlink()
    (trained_30 / 'iter_10.pth').unlink()
    before = {n: (trained_30 / n).read_bytes() for n in ('iter_20.pth', 'iter_30.pth')}
    runner = _runner(trained_30, 40, resume=True)
    log = _Messages(runner)
    runner.train()
    assert _start_iter(runner) == 30 and runner.iter == 40
    assert f'Auto resumed from the latest intact checkpoint {trained_30 / "iter_30.pth"}' \
        in log.text()
    for name, data in before.items():  # neither overwritten nor deleted
        assert (trained_30 / name).read_bytes() == data
    assert (trained_30 / 'iter_40.pth').is_file()
    _assert_same_weights(_weights(runner), uninterrupted)  # bitwise what a straight run gives


@pytest.mark.parametrize('damage', ['truncated', 'zero-byte'])
def test_damaged_last_checkpoint_falls_back_to_the_previous(trained_30, uninterrupted, damage):
    newest = trained_30 / 'iter_30.pth'
    data = newest.read_bytes()
    newest.write_bytes(data[:len(data) // 2] if damage == 'truncated' else b'')
    runner = _runner(trained_30, 40, resume=True)
    log = _Messages(runner)
    runner.train()
    assert _start_iter(runner) == 20 and runner.iter == 40
    assert f'Resume: skipping {newest}' in log.text()
    assert ('0 bytes' if damage == 'zero-byte' else 'truncated') in log.text()
    assert 'falling back to' in log.text() and str(trained_30 / 'iter_20.pth') in log.text()
    _assert_same_weights(_weights(runner), uninterrupted)


def test_empty_pointer_file_is_reported_and_the_files_are_scanned(trained_30):
    (trained_30 / 'last_checkpoint').write_text('')
    runner = _runner(trained_30, 31, resume=True)
    log = _Messages(runner)
    runner.train()
    assert _start_iter(runner) == 30
    assert f'{trained_30 / "last_checkpoint"} is empty' in log.text()


def test_pointer_is_preferred_over_higher_numbered_leftovers(trained_30):
    """In a reused work dir, last_checkpoint says which file belongs to the current run."""
    (trained_30 / 'iter_90.pth').write_bytes((trained_30 / 'iter_10.pth').read_bytes())
    runner = _runner(trained_30, 31, resume=True)
    runner.train()
    assert _start_iter(runner) == 30


def test_no_intact_checkpoint_is_an_error_naming_each(trained_30):
    for name in ('iter_10.pth', 'iter_20.pth', 'iter_30.pth'):
        (trained_30 / name).write_bytes(b'PK\x03\x04 cut short')
    runner = _runner(trained_30, 40, resume=True)
    with pytest.raises(CheckpointError, match='no intact checkpoint') as err:
        runner.train()
    for name in ('iter_10.pth', 'iter_20.pth', 'iter_30.pth'):
        assert str(trained_30 / name) in str(err.value)
    assert not (trained_30 / 'iter_40.pth').exists()


def test_dangling_pointer_without_files_is_an_error(tmp_path):
    tmp_path.joinpath('last_checkpoint').write_text(str(tmp_path / 'iter_30.pth'))
    with pytest.raises(CheckpointError, match='iter_30.pth.*not found'):
        _runner(tmp_path, 40, resume=True).train()


def test_no_checkpoint_starts_from_scratch_and_says_so(tmp_path):
    runner = _runner(tmp_path, 2, resume=True)
    log = _Messages(runner)
    runner.train()
    assert _start_iter(runner) == 0 and runner.iter == 2
    assert f'Resume: no checkpoint in {tmp_path}, starting from scratch' in log.text()


# --- explicit files: --resume CKPT, load_from ---------------------------------------------------

def test_explicit_damaged_resume_is_an_error_without_fallback(trained_30):
    newest = trained_30 / 'iter_30.pth'
    newest.write_bytes(newest.read_bytes()[:4000])
    runner = _runner(trained_30, 40, resume=True, load_from=str(newest))
    with pytest.raises(CheckpointError, match='iter_30.pth is not a readable torch checkpoint'):
        runner.train()


def test_weights_only_file_cannot_be_resumed(trained_30, tmp_path):
    weights = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=torch.load(trained_30 / 'iter_30.pth')['state_dict']), weights)
    with pytest.raises(CheckpointError, match='weights.pth is not a training checkpoint.*no '
                       'meta, message_hub.*load_from'):
        _runner(tmp_path / 'w', 40, resume=True, load_from=str(weights)).train()


def test_explicit_resume_continues_from_that_file(trained_30):
    runner = _runner(trained_30, 21, resume=True, load_from=str(trained_30 / 'iter_20.pth'))
    runner.train()
    assert _start_iter(runner) == 20 and runner.iter == 21


class _Payload:
    """A pickle that, when unpickled by a full unpickler, writes a marker file."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        return Path.write_text, (self.marker, 'payload ran')


def _malicious_checkpoint(path, marker, like):
    ckpt = torch.load(like)
    ckpt['meta']['note'] = _Payload(marker)
    torch.save(ckpt, path)


def test_payload_fixture_runs_when_unpickled(tmp_path):
    """The payload is real: a plain pickle round trip runs it."""
    marker = tmp_path / 'ran'
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.read_text() == 'payload ran'


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_malicious_pickle_is_refused_and_not_run(trained_30, tmp_path, how):
    marker, evil = tmp_path / 'marker', tmp_path / 'evil.pth'
    _malicious_checkpoint(evil, marker, trained_30 / 'iter_10.pth')
    runner = _runner(tmp_path / 'w', 40, resume=how == 'resume', load_from=str(evil))
    with pytest.raises(CheckpointError, match='evil.pth.*refused by the safe unpickler'):
        runner.train()
    assert not marker.exists()


def test_load_from_loads_strictly(trained_30, tmp_path):
    ckpt = torch.load(trained_30 / 'iter_20.pth')
    source = ckpt['state_dict']
    runner = _runner(tmp_path / 'fine', 20, load_from=str(trained_30 / 'iter_20.pth'))
    runner.train()
    assert _start_iter(runner) == 0  # load_from restarts the schedule, weights loaded
    del source['fc.weight']
    partial = tmp_path / 'partial.pth'
    torch.save(ckpt, partial)
    with pytest.raises(CheckpointError, match=r'partial.pth does not fit _Tiny: 1 missing '
                       r'key\(s\) \[fc.weight\]'):
        _runner(tmp_path / 'w', 40, load_from=str(partial)).train()
    source['fc.weight'] = torch.zeros(2, 3)
    torch.save(ckpt, partial)
    with pytest.raises(CheckpointError, match=r'fc.weight: checkpoint \(2, 3\) vs model \(1, 3\)'):
        _runner(tmp_path / 'w2', 40, load_from=str(partial)).train()


def test_load_from_gets_exactly_the_saved_weights(trained_30, tmp_path):
    runner = _runner(tmp_path / 'w', 1, load_from=str(trained_30 / 'iter_30.pth'))
    runner.load_or_resume()
    saved = torch.load(trained_30 / 'iter_30.pth')['state_dict']
    _assert_same_weights(_weights(runner), saved)


def test_load_from_keeps_revise_keys_and_refuses_non_strict(trained_30, tmp_path):
    ckpt = torch.load(trained_30 / 'iter_30.pth')
    ckpt['state_dict'] = {f'module.{k}': v for k, v in ckpt['state_dict'].items()}  # DDP keys
    ddp = tmp_path / 'ddp.pth'
    torch.save(ckpt, ddp)
    runner = _runner(tmp_path / 'w', 1)
    runner.load_checkpoint(str(ddp))
    assert torch.equal(runner.model.fc.weight, ckpt['state_dict']['module.fc.weight'])
    runner.load_checkpoint(str(ddp), revise_keys=[(r'^module\.', ''), (r'^fc\.', 'fc.')])
    with pytest.raises(ValueError, match='strictly'):
        runner.load_checkpoint(str(ddp), strict=False)


def test_missing_explicit_file_and_urls_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        _runner(tmp_path / 'w', 1, load_from=str(tmp_path / 'nowhere.pth')).train()
    with pytest.raises(CheckpointError, match='local checkpoint files only'):
        _runner(tmp_path / 'w2', 1, load_from='https://example.org/x.pth').train()


# --- atomic saving ---------------------------------------------------------------------------

@pytest.mark.parametrize('checkpoint_type', ['CheckpointHook', 'mmengine.CheckpointHook', None])
def test_stock_checkpoint_hook_becomes_atomic(tmp_path, checkpoint_type):
    runner = _runner(tmp_path, 1, checkpoint_type=checkpoint_type or CheckpointHook)
    hooks = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
    assert len(hooks) == 1 and type(hooks[0]) is AtomicCheckpointHook
    assert hooks[0].interval == 10 and hooks[0].by_epoch is False


def test_other_checkpoint_settings_are_kept(tmp_path):
    from mmsdt.engine.runner import with_atomic_checkpoint_hook
    assert with_atomic_checkpoint_hook(None)['checkpoint'] == dict(type=AtomicCheckpointHook,
                                                                   interval=1)
    assert with_atomic_checkpoint_hook(dict(checkpoint=None)) == dict(checkpoint=None)
    hook = CheckpointHook(interval=3)
    assert with_atomic_checkpoint_hook(dict(checkpoint=hook))['checkpoint'] is hook
    other = dict(type='MyCheckpointHook', interval=3)
    assert with_atomic_checkpoint_hook(dict(checkpoint=other))['checkpoint'] == other


def test_runner_type_builds_the_safe_runner(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import MODELS
    MODELS.register_module(name='MmsdtTestTinyRegressor', module=_Tiny, force=True)
    cfg = Config(dict(
        runner_type='mmsdt.SafeRunner', model=dict(type='MmsdtTestTinyRegressor'),
        work_dir=str(tmp_path),
        experiment_name=f'safe_runner_{uuid.uuid4().hex}'))
    assert type(RUNNERS.build(cfg)) is SafeRunner


def test_same_files_and_keys_as_the_stock_hook(tmp_path):
    # the stock runner and hook, with the custom hook that keeps its files safe to read
    stock = _runner(tmp_path / 'stock', 20, runner_cls=Runner, max_keep_ckpts=1,
                    hooks=[dict(type='mmsdt.SafeCheckpointHook')])
    stock.train()
    safe = _runner(tmp_path / 'safe', 20, max_keep_ckpts=1)
    safe.train()
    assert _files(tmp_path / 'stock') == ['iter_20.pth', 'last_checkpoint']
    assert _files(tmp_path / 'safe') == ['iter_20.pth', 'last_checkpoint']
    assert (tmp_path / 'safe' / 'last_checkpoint').read_text() == str(tmp_path / 'safe' /
                                                                       'iter_20.pth')
    ours = torch.load(tmp_path / 'safe' / 'iter_20.pth')  # weights_only=True (torch default)
    theirs = torch.load(tmp_path / 'stock' / 'iter_20.pth')
    assert ours.keys() == theirs.keys() and ours['meta']['iter'] == 20
    info, stock_info = ours['message_hub']['runtime_info'], theirs['message_hub']['runtime_info']
    assert info.keys() == stock_info.keys()
    assert info['iter'] == stock_info['iter'] and info['keep_ckpt_ids'] == [20]
    assert info['last_ckpt'] == str(tmp_path / 'safe' / 'iter_20.pth')
    assert ours['message_hub']['log_scalars'] == {}  # what weights_only=True cannot read
    _assert_same_weights(ours['state_dict'], theirs['state_dict'])


def _disk_full_at(monkeypatch, step):
    """The write of checkpoint ``step`` gets half its bytes onto the disk, then fails."""
    real_put = LocalBackend.put

    def put(self, obj, filepath):
        if f'iter_{step}.pth' in os.path.basename(filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise OSError(errno.ENOSPC, 'No space left on device', str(filepath))
        return real_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)


def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    _disk_full_at(monkeypatch, 20)
    with pytest.raises(OSError, match='No space left'):
        _runner(work, 30, max_keep_ckpts=1).train()
    assert _files(work) == ['iter_10.pth', 'last_checkpoint']  # no partial file, no temporary
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_10.pth')
    assert torch.load(work / 'iter_10.pth')['meta']['iter'] == 10
    monkeypatch.undo()
    runner = _runner(work, 30, resume=True, max_keep_ckpts=1)
    runner.train()
    assert _start_iter(runner) == 10 and runner.iter == 30
    straight = _runner(tmp_path / 'straight', 30)
    straight.train()
    _assert_same_weights(_weights(runner), _weights(straight))
    assert _files(work) == ['iter_30.pth', 'last_checkpoint']


def test_the_same_crash_breaks_the_stock_hook(tmp_path, monkeypatch):
    """What the atomic hook prevents (mmengine 0.10.7 deletes before it writes)."""
    work = tmp_path / 'work'
    _disk_full_at(monkeypatch, 20)
    with pytest.raises(OSError):
        _runner(work, 30, runner_cls=Runner, max_keep_ckpts=1).train()
    assert not (work / 'iter_10.pth').exists()
    assert (work / 'iter_20.pth').stat().st_size > 0  # half a file, not loadable
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match='iter_20.pth'):
        _runner(work, 30, resume=True).train()


def test_kill_during_save_leaves_previous_state_and_temporary_is_cleaned(tmp_path, monkeypatch):
    """A kill between writing and renaming: the half-written temporary stays behind (no
    handler runs after SIGKILL); the next run removes it."""
    work = tmp_path / 'work'
    _runner(work, 10).train()
    leftover = work / f'.iter_20.pth.{os.getpid() + 1}.tmp'
    leftover.write_bytes(b'half a checkpoint')
    pointer_tmp = work / '.last_checkpoint.4242.tmp'
    pointer_tmp.write_text('x')
    unrelated = work / '.notes.tmp'
    unrelated.write_text('keep me')
    runner = _runner(work, 11, resume=True)
    log = _Messages(runner)
    runner.train()
    assert _start_iter(runner) == 10
    assert not leftover.exists() and not pointer_tmp.exists() and unrelated.exists()
    assert f'Removing {leftover}' in log.text()


def test_failed_pointer_write_keeps_the_old_pointer(tmp_path, monkeypatch):
    from mmsdt.engine.hooks import safe_checkpoint_hook
    work = tmp_path / 'work'
    _runner(work, 10).train()
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(dst) == 'last_checkpoint':
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_replace(src, dst)

    monkeypatch.setattr(safe_checkpoint_hook.os, 'replace', replace)
    with pytest.raises(OSError):
        _runner(work, 20, resume=True, max_keep_ckpts=1).train()
    monkeypatch.undo()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_10.pth')
    assert (work / 'iter_10.pth').is_file() and (work / 'iter_20.pth').is_file()
    assert not [p for p in work.iterdir() if p.name.endswith('.tmp')]
