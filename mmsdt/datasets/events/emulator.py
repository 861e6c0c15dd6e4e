"""A DVS emulator: greyscale frames with timestamps in, polarity events out (numpy only).

The model is the v2e / ESIM principle (docs: ``../shared/reference/dvs.md`` section 7.1),
written from its description:

1. **Log mapping** ``L = lin_log(I)``: linear below 20 grey levels (``I * ln(20) / 20``),
   ``ln(I)`` above, rounded to 8 decimals so that equal intensities give equal levels.
2. **Per-pixel thresholds** drawn once per recording: ``C+_xy ~ N(C+, sigma_C)``,
   ``C-_xy ~ N(C-, sigma_C)``, clipped at :data:`MIN_THRESHOLD` (threshold mismatch).
3. Each pixel holds a **reference level** ``L_ref``, set to ``L`` of the first frame (which
   gives no events).
4. For each frame interval ``(t_{k-1}, t_k]``: ``dL = L_k - L_ref``;
   ``n+ = floor(max(dL, 0) / C+_xy)``, ``n- = floor(max(-dL, 0) / C-_xy)``.
5. **Event times** (ESIM-exact): ``L`` is linear in time between the frames, and the j-th event
   of a pixel is at the time its level crosses ``L_ref + j * s * C`` (``s`` the sign); a
   crossing time outside the interval (possible only when refractory drops left ``L_ref``
   more than one threshold behind) is clipped to it.
6. **Refractory period** ``r``: an event at ``t`` is dropped when ``t - t_last <= r`` for the
   pixel's last emitted event.
7. **Reference update** with the emitted events only:
   ``L_ref += n+_emitted * C+_xy - n-_emitted * C-_xy``; the sub-threshold remainder stays
   (the memory that lets slow drifts produce events).
8. **Shot noise**: per pixel and interval an ON (OFF) event with probability
   ``rate / 2 * dt`` each, at a uniform time inside the interval; the pixel's reference is
   reset to its current level ``L_k`` when a noise event is emitted (as v2e does). Noise
   events pass the same refractory check.

Not modelled (v2e options, off in its "clean" preset too): the photoreceptor low-pass and
the leak events. All draws come from one ``numpy.random.Generator``, so a seed gives the same
events. The output has :data:`~mmsdt.datasets.events.layout.EVENT_DTYPE` (x, y int16; t int64
µs; p bool, True = ON) sorted by time; ties keep the pixel order (row-major), ON before OFF.
"""
from typing import Union

import numpy as np

from .layout import EVENT_DTYPE

MIN_THRESHOLD = 0.01
"""Per-pixel thresholds drawn below this are clipped to it (log units)."""

LIN_LOG_KNEE = 20.0
"""Grey level below which :func:`lin_log` is linear (avoids ``ln(0)`` and dark-pixel noise)."""

SeedLike = Union[int, np.random.Generator, None]


def lin_log(frames: np.ndarray) -> np.ndarray:
    """The log mapping: ``I * ln(20) / 20`` for ``I <= 20``, else ``ln(I)``, rounded to 8
    decimals; float64 of the input's shape (intensities 0-255, any real dtype)."""
    intensity = np.asarray(frames, np.float64)
    if np.any(intensity < 0):
        raise ValueError(f'lin_log: intensities must be >= 0, got min {intensity.min()}')
    knee = LIN_LOG_KNEE
    out = np.where(intensity <= knee, intensity * (np.log(knee) / knee),
                   np.log(np.maximum(intensity, knee)))
    return np.round(out, 8)


class DVSEmulator:
    """Turns a greyscale video into DVS polarity events (see the module docstring).

    Args:
        pos_threshold (float): nominal ON threshold ``C+`` in log units. Default 0.2.
        neg_threshold (float): nominal OFF threshold ``C-`` in log units. Default 0.2.
        threshold_sigma (float): standard deviation of the per-pixel threshold mismatch.
            Default 0.03.
        refractory_us (int): refractory period in µs (0: none). Default 0.
        shot_noise_hz (float): shot-noise rate per pixel (ON and OFF together) in Hz.
            Default 0.

    Example:
        >>> frames = np.full((3, 1, 1), 50.0); frames[1:] = 100.0
        >>> DVSEmulator(threshold_sigma=0).emulate(frames, [0, 1000, 2000], seed=0)['p']
        array([ True,  True,  True])
    """

    def __init__(self, pos_threshold: float = 0.2, neg_threshold: float = 0.2,
                 threshold_sigma: float = 0.03, refractory_us: int = 0,
                 shot_noise_hz: float = 0.0) -> None:
        for name, value in (('pos_threshold', pos_threshold), ('neg_threshold', neg_threshold)):
            if not value >= MIN_THRESHOLD:
                raise ValueError(f'DVSEmulator: {name} must be >= {MIN_THRESHOLD}, got {value}')
        for name, value in (('threshold_sigma', threshold_sigma),
                            ('refractory_us', refractory_us), ('shot_noise_hz', shot_noise_hz)):
            if not value >= 0:
                raise ValueError(f'DVSEmulator: {name} must be >= 0, got {value}')
        self.pos_threshold = float(pos_threshold)
        self.neg_threshold = float(neg_threshold)
        self.threshold_sigma = float(threshold_sigma)
        self.refractory_us = int(refractory_us)
        self.shot_noise_hz = float(shot_noise_hz)

    def thresholds(self, shape: tuple, rng: np.random.Generator) -> tuple:
        """Per-pixel ``(C+, C-)`` maps of ``shape`` drawn from ``rng`` (clipped at
        :data:`MIN_THRESHOLD`)."""
        pos = rng.normal(self.pos_threshold, self.threshold_sigma, shape)
        neg = rng.normal(self.neg_threshold, self.threshold_sigma, shape)
        return np.maximum(pos, MIN_THRESHOLD), np.maximum(neg, MIN_THRESHOLD)

    def emulate(self, frames: np.ndarray, times_us, seed: SeedLike = None) -> np.ndarray:
        """Events of a video.

        Args:
            frames (numpy.ndarray): ``(K, H, W)`` intensities 0-255 (K >= 1 frames).
            times_us: ``K`` strictly increasing integer timestamps in µs.
            seed (int | numpy.random.Generator | None): source of the thresholds and the
                noise; an int or a Generator gives reproducible events.

        Returns:
            numpy.ndarray: events with ``EVENT_DTYPE``, sorted by ``t``; all times lie in
            ``(times_us[0], times_us[-1]]``.
        """
        frames = np.asarray(frames)
        times = np.asarray(times_us)
        if frames.ndim != 3:
            raise ValueError(f'DVSEmulator.emulate: frames must be (K, H, W), got shape '
                             f'{frames.shape}')
        if times.shape != (frames.shape[0], ) or not np.issubdtype(times.dtype, np.integer):
            raise ValueError(f'DVSEmulator.emulate: times_us must hold {frames.shape[0]} integer '
                             f'timestamps (one per frame), got shape {times.shape} dtype '
                             f'{times.dtype}')
        times = times.astype(np.int64)
        if np.any(np.diff(times) <= 0):
            raise ValueError('DVSEmulator.emulate: times_us must be strictly increasing')
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        height, width = frames.shape[1:]
        levels = lin_log(frames).reshape(len(frames), -1)
        pos_c, neg_c = self.thresholds((height * width, ), rng)
        ref = levels[0].copy()
        t_last = np.full(height * width, np.iinfo(np.int64).min // 2, np.int64)
        chunks = []
        for k in range(1, len(frames)):
            chunks.extend(self._interval(levels[k - 1], levels[k], int(times[k - 1]),
                                         int(times[k]), ref, t_last, pos_c, neg_c, rng))
        return self._assemble(chunks, width)

    def _interval(self, prev: np.ndarray, cur: np.ndarray, t0: int, t1: int, ref: np.ndarray,
                  t_last: np.ndarray, pos_c: np.ndarray, neg_c: np.ndarray,
                  rng: np.random.Generator) -> list:
        """Events of one frame interval as ``(pixel, t, p)`` chunks; updates ``ref`` and
        ``t_last`` in place."""
        out = []
        delta = cur - ref
        slope = cur - prev
        for sign, thr in ((1, pos_c), (-1, neg_c)):
            counts = np.floor(np.maximum(sign * delta, 0) / thr).astype(np.int64)
            pixels = np.nonzero(counts)[0]
            if pixels.size == 0:
                continue
            counts, base = counts[pixels], ref[pixels].copy()
            emitted = np.zeros(pixels.size, np.int64)
            for j in range(1, int(counts.max()) + 1):
                sel = np.nonzero(counts >= j)[0]
                level = base[sel] + sign * j * thr[pixels[sel]]
                t = _crossing_times(prev[pixels[sel]], slope[pixels[sel]], level, t0, t1)
                ok = t - t_last[pixels[sel]] > self.refractory_us
                sel, t = sel[ok], t[ok]
                t_last[pixels[sel]] = t
                emitted[sel] += 1
                out.append((pixels[sel], t, np.full(sel.size, sign > 0)))
            ref[pixels] += sign * emitted * thr[pixels]
        if self.shot_noise_hz > 0:
            out.extend(self._shot_noise(cur, t0, t1, ref, t_last, rng))
        return out

    def _shot_noise(self, cur: np.ndarray, t0: int, t1: int, ref: np.ndarray,
                    t_last: np.ndarray, rng: np.random.Generator) -> list:
        """Shot-noise events of one interval (see the module docstring, step 8)."""
        prob = min(self.shot_noise_hz / 2 * (t1 - t0) * 1e-6, 1.0)
        draws = rng.random((2, cur.size))
        out = []
        for row, polarity in ((0, True), (1, False)):
            pixels = np.nonzero(draws[row] < prob)[0]
            t = rng.integers(t0 + 1, t1 + 1, pixels.size, dtype=np.int64)
            ok = t - t_last[pixels] > self.refractory_us
            pixels, t = pixels[ok], t[ok]
            t_last[pixels] = np.maximum(t_last[pixels], t)
            ref[pixels] = cur[pixels]
            out.append((pixels, t, np.full(pixels.size, polarity)))
        return out

    @staticmethod
    def _assemble(chunks: list, width: int) -> np.ndarray:
        """Concatenate ``(pixel, t, p)`` chunks into ``EVENT_DTYPE`` sorted by ``(t, pixel,
        OFF after ON)``."""
        if not chunks:
            return np.zeros(0, EVENT_DTYPE)
        pixel = np.concatenate([c[0] for c in chunks])
        t = np.concatenate([c[1] for c in chunks])
        p = np.concatenate([c[2] for c in chunks])
        order = np.lexsort((~p, pixel, t))
        events = np.empty(order.size, EVENT_DTYPE)
        events['x'] = pixel[order] % width
        events['y'] = pixel[order] // width
        events['t'] = t[order]
        events['p'] = p[order]
        return events


def _crossing_times(start: np.ndarray, slope: np.ndarray, level: np.ndarray, t0: int,
                    t1: int) -> np.ndarray:
    """Times (int64 µs, in ``[t0 + 1, t1]``) at which the level, linear from ``start`` at
    ``t0`` by ``slope`` per interval, crosses ``level``; the interval's end where it does
    not cross inside the interval."""
    with np.errstate(divide='ignore', invalid='ignore'):
        frac = (level - start) / slope
    frac = np.where(np.isfinite(frac), np.clip(frac, 0.0, 1.0), 1.0)
    t = t0 + np.round(frac * (t1 - t0)).astype(np.int64)
    return np.clip(t, t0 + 1, t1)


def emulate_events(frames: np.ndarray, times_us, seed: SeedLike = None,
                   **params) -> np.ndarray:
    """Shortcut for ``DVSEmulator(**params).emulate(frames, times_us, seed)``."""
    return DVSEmulator(**params).emulate(frames, times_us, seed)


__all__ = ['DVSEmulator', 'emulate_events', 'lin_log', 'MIN_THRESHOLD']
