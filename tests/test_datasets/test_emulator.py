"""The DVS emulator (mmsdt/datasets/events/emulator.py) against hand-computed events.

Intensities are written as ``exp(L)`` with ``L > ln 20 ~ 2.996`` so that the log mapping gives ``L``
back (to the 8 decimals it rounds to); the expected counts and times below follow from the
model in the module docstring: the j-th event of a pixel is at the time the linearly
interpolated level crosses ``L_ref + j * C``.
"""
import numpy as np
import pytest

from mmsdt.datasets.events.emulator import DVSEmulator, emulate_events, lin_log
from mmsdt.datasets.events.layout import EVENT_DTYPE


def video(levels, shape=(1, 1)):
    """Frames whose every pixel has log level ``levels[k]`` in frame k."""
    return np.exp(np.asarray(levels, np.float64))[:, None, None] * np.ones(shape)


def test_lin_log_is_linear_below_the_knee_and_log_above():
    assert lin_log(np.array([0.0]))[0] == 0.0
    assert lin_log(np.array([10.0]))[0] == pytest.approx(10 * np.log(20) / 20, abs=1e-8)
    assert lin_log(np.array([20.0]))[0] == pytest.approx(np.log(20), abs=1e-8)
    assert lin_log(np.array([100.0]))[0] == pytest.approx(np.log(100), abs=1e-8)
    with pytest.raises(ValueError, match='>= 0'):
        lin_log(np.array([-1.0]))


def test_single_pixel_ramp_hand_computed_events():
    # L: 4.0 -> 4.5 (two ON crossings at 4.2, 4.4: fractions 0.4, 0.8 of the interval),
    # flat, 4.61 (one ON at 4.6: only with the kept remainder, 4.61 - 4.4 = 0.21 >= 0.2;
    # fraction (4.6 - 4.5) / 0.11), then 3.95 (three OFF at 4.4, 4.2, 4.0: fractions
    # 0.21 / 0.66, 0.41 / 0.66, 0.61 / 0.66).
    frames = video([4.0, 4.5, 4.5, 4.61, 3.95])
    times = np.array([0, 1000, 2000, 3000, 4000])
    events = DVSEmulator(threshold_sigma=0).emulate(frames, times, seed=0)
    assert events.dtype == EVENT_DTYPE
    expected_t = [400, 800, 2000 + round(1000 * 0.1 / 0.11), 3000 + round(1000 * 0.21 / 0.66),
                  3000 + round(1000 * 0.41 / 0.66), 3000 + round(1000 * 0.61 / 0.66)]
    assert events['t'].tolist() == expected_t
    assert events['p'].tolist() == [True, True, True, False, False, False]
    assert (events['x'] == 0).all() and (events['y'] == 0).all()


def test_reference_level_keeps_the_sub_threshold_remainder():
    # L = 3.0, then 3.0 + 0.05 k + 0.001: no single step reaches C = 0.2, the accumulated
    # change does: 3.2 is crossed in step 4 (from 3.151 to 3.201), 3.4 in step 8, each at
    # the fraction (0.05 - 0.001) / 0.05 of the step.
    levels = 3.0 + 0.05 * np.arange(11) + 1e-3
    levels[0] = 3.0
    frames = video(levels)
    times = np.arange(11) * 1000
    events = DVSEmulator(threshold_sigma=0).emulate(frames, times, seed=0)
    assert events['t'].tolist() == [3000 + round(1000 * 0.049 / 0.05),
                                    7000 + round(1000 * 0.049 / 0.05)]
    assert events['p'].all()


def test_refractory_period_drops_events_and_the_reference_follows_emitted_ones():
    # the ramp 3.0 -> 3.5 crosses at 400 and 800 us; with r = 500 us the second is dropped,
    # so L_ref stays at 3.2 and the flat next frame (3.5 - 3.2 = 0.3) fires one more event,
    # at the interval's end (a flat level crosses nothing inside the interval).
    frames = video([3.0, 3.5, 3.5])
    events = DVSEmulator(threshold_sigma=0, refractory_us=500).emulate(
        frames, np.array([0, 1000, 2000]), seed=0)
    assert events['t'].tolist() == [400, 2000]
    assert events['p'].all()
    # r = 300 us keeps both (800 - 400 > 300), and the flat frame then gives nothing
    kept = DVSEmulator(threshold_sigma=0, refractory_us=300).emulate(
        frames, np.array([0, 1000, 2000]), seed=0)
    assert kept['t'].tolist() == [400, 800]


def test_threshold_mismatch_spreads_the_counts_per_pixel():
    frames = video([3.0, 4.1], shape=(40, 50))  # dL = 1.1 everywhere
    exact = DVSEmulator(threshold_sigma=0).emulate(frames, np.array([0, 1000]), seed=0)
    per_pixel = np.bincount(exact['y'].astype(int) * 50 + exact['x'], minlength=2000)
    assert (per_pixel == 5).all()  # floor(1.1 / 0.2)
    events = DVSEmulator(threshold_sigma=0.03).emulate(frames, np.array([0, 1000]), seed=0)
    per_pixel = np.bincount(events['y'].astype(int) * 50 + events['x'], minlength=2000)
    assert per_pixel.min() < 5 < per_pixel.max()
    assert 4.5 < per_pixel.mean() < 6.0


def test_shot_noise_rate_on_a_static_scene():
    frames = video([4.0] * 11, shape=(100, 100))
    times = np.arange(11) * 1000  # 10 ms
    assert DVSEmulator().emulate(frames, times, seed=0).size == 0
    events = DVSEmulator(shot_noise_hz=10.0).emulate(frames, times, seed=0)
    # expected 10 Hz * 10 000 pixels * 0.01 s = 1000 events (Poisson-like spread ~32)
    assert 850 < events.size < 1150
    assert 0.4 < events['p'].mean() < 0.6
    assert (events['t'] > 0).all() and (events['t'] <= 10000).all()


def test_output_sorted_and_deterministic_per_seed():
    rng = np.random.default_rng(3)
    frames = rng.uniform(30, 200, (6, 8, 9))
    times = np.array([0, 700, 1500, 2100, 3000, 4200])
    params = dict(threshold_sigma=0.05, refractory_us=100, shot_noise_hz=50.0)
    a = emulate_events(frames, times, seed=7, **params)
    b = emulate_events(frames, times, seed=np.random.default_rng(7), **params)
    c = emulate_events(frames, times, seed=8, **params)
    assert a.size > 50
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (np.diff(a['t']) >= 0).all()
    assert a['x'].max() < 9 and a['y'].max() < 8
    assert (a['t'] > 0).all() and (a['t'] <= 4200).all()


@pytest.mark.parametrize('frames, times, match', [
    (np.ones((3, 4)), np.arange(3), r'\(K, H, W\)'),
    (np.ones((3, 2, 2)), np.arange(2), 'one per frame'),
    (np.ones((3, 2, 2)), np.array([0.0, 1.0, 2.0]), 'integer'),
    (np.ones((3, 2, 2)), np.array([0, 2, 2]), 'strictly increasing'),
])
def test_bad_input_is_named(frames, times, match):
    with pytest.raises(ValueError, match=match):
        DVSEmulator().emulate(frames, times)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match='pos_threshold'):
        DVSEmulator(pos_threshold=0)
    with pytest.raises(ValueError, match='refractory_us'):
        DVSEmulator(refractory_us=-1)
