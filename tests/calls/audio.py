"""Listening to recordings in tests: read a WAV through the engine, find tones by Goertzel."""

from __future__ import annotations

import math
from pathlib import Path

from appliance.drivers._binding import ffi, lib

BLOCK = 160  # 20 ms


def tone_runs_in_file(path: Path, freq: float, min_ratio: float = 0.5,
                      min_amplitude: float = 0.0) -> list[tuple[int, int]]:
    """Runs of 20 ms blocks of ``freq`` in a WAV, computed off the hub (gevent's threadpool)."""
    import gevent

    def work() -> list[tuple[int, int]]:
        return runs(tone_blocks(read_wav(path), freq, min_ratio, min_amplitude))

    result: list[tuple[int, int]] = gevent.get_hub().threadpool.apply(work)
    return result


def read_wav(path: Path, max_seconds: int = 120) -> list[int]:
    buf = ffi.new("int16_t[]", 8000 * max_seconds)
    n = lib.vb_util_wav_read(str(path).encode(), buf, 8000 * max_seconds)
    assert n >= 0, f"{path} is not a readable WAV ({n})"
    return list(buf[0:n])


def tone_blocks(samples: list[int], freq: float, min_ratio: float = 0.5,
                min_amplitude: float = 0.0) -> list[bool]:
    """Per 20 ms block: does ``freq`` carry at least ``min_ratio`` of the block's energy?

    With ``min_amplitude`` the test is instead the tone's own amplitude (in linear sample units),
    whatever else is mixed in: a prompt under a DTMF digit still counts as playing.
    """
    coeff = 2 * math.cos(2 * math.pi * freq / 8000)
    out = []
    for start in range(0, len(samples) - BLOCK + 1, BLOCK):
        s1 = s2 = 0.0
        energy = 0.0
        for x in samples[start:start + BLOCK]:
            s0 = x + coeff * s1 - s2
            s2, s1 = s1, s0
            energy += x * x
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2
        # a pure sine of amplitude A over N samples: power = (A*N/2)^2, energy = A^2*N/2
        if min_amplitude:
            out.append(2 * math.sqrt(max(power, 0.0)) / BLOCK >= min_amplitude)
            continue
        ratio = (2 * power / BLOCK) / energy if energy > 1e3 else 0.0
        out.append(ratio >= min_ratio)
    return out


def runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(start_block, length) of each run of True."""
    found, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            found.append((start, i - start))
            start = None
    return found
