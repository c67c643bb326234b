"""Tones in a WAV file, as the engine wrote it: per 20 ms block, is a frequency there (Goertzel).

Used by the acceptance run (hwtest) and by the tests that listen to recordings.  Pure CPU work on a
whole file: call it off the hub (gevent's threadpool).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from appliance.drivers._binding import ffi, lib

RATE = 8000
BLOCK = 160                 # 20 ms
BLOCK_MS = 1000 * BLOCK // RATE
MAX_SECONDS = 120           # longest recording read
TONE_RATIO = 0.4            # a block holds a tone when it carries this share of the block's energy
MIN_ENERGY = 1e3            # quieter blocks are silence


def read_wav(path: Path, max_seconds: int = MAX_SECONDS) -> list[int]:
    """Samples of a WAV file (ValueError if it is not one the engine can read)."""
    size = RATE * max_seconds
    buf = ffi.new("int16_t[]", size)
    n = int(lib.vb_util_wav_read(str(path).encode(), buf, size))
    if n < 0:
        raise ValueError(f"{path} is not a readable WAV file (error {n})")
    return list(buf[0:n])


def tone_blocks(samples: list[int], freq: float, min_ratio: float = TONE_RATIO,
                min_energy: float = MIN_ENERGY, min_amplitude: float = 0.0) -> list[bool]:
    """Per 20 ms block: does ``freq`` carry at least ``min_ratio`` of the block's energy (Goertzel)?

    Blocks with no more than ``min_energy`` are silence.  With ``min_amplitude`` the test is the
    tone's own amplitude (linear sample units) instead, whatever else is mixed in.
    """
    coeff = 2 * math.cos(2 * math.pi * freq / RATE)
    flags: list[bool] = []
    for start in range(0, len(samples) - BLOCK + 1, BLOCK):
        s1 = s2 = energy = 0.0
        for x in samples[start:start + BLOCK]:
            s0 = x + coeff * s1 - s2
            s2, s1 = s1, s0
            energy += x * x
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2
        # a pure sine of amplitude A over N samples: power = (A*N/2)^2 and energy = A^2*N/2
        if min_amplitude:
            flags.append(2 * math.sqrt(max(power, 0.0)) / BLOCK >= min_amplitude)
            continue
        ratio = (2 * power / BLOCK) / energy if energy > min_energy else 0.0
        flags.append(ratio >= min_ratio)
    return flags


def longest_run(flags: Iterable[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best
