"""Listening to a recording: which test tones does a WAV hold, and for how long.

The WAV is read by the media engine's own reader (A-law or linear, as the engine writes it) and each
20 ms block is tested for each frequency with a Goertzel filter. The work runs in gevent's
threadpool: the hub goes on serving the board meanwhile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gevent

from appliance.drivers._binding import ffi, lib

RATE = 8000
BLOCK = 160                 # 20 ms
BLOCK_MS = 1000 * BLOCK // RATE
MAX_SECONDS = 120           # longest recording read
TONE_RATIO = 0.4            # a block holds a tone when it carries this share of the block's energy
MIN_ENERGY = 1e3            # quieter blocks are silence


@dataclass(frozen=True)
class ToneScan:
    duration_ms: int
    longest_ms: dict[int, int]      # frequency (Hz) -> longest unbroken run of it, in ms


def read_wav(path: Path, max_seconds: int = MAX_SECONDS) -> list[int]:
    """Samples of a WAV file (ValueError if it is not one the engine can read)."""
    size = RATE * max_seconds
    buf = ffi.new("int16_t[]", size)
    n = int(lib.vb_util_wav_read(str(path).encode(), buf, size))
    if n < 0:
        raise ValueError(f"{path} is not a readable WAV file (error {n})")
    return list(buf[0:n])


def tone_blocks(samples: list[int], freq: float, min_ratio: float = TONE_RATIO) -> list[bool]:
    """Per 20 ms block: does ``freq`` carry at least ``min_ratio`` of the block's energy?"""
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
        ratio = (2 * power / BLOCK) / energy if energy > MIN_ENERGY else 0.0
        flags.append(ratio >= min_ratio)
    return flags


def longest_run(flags: list[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def scan(path: Path, freqs: list[int]) -> ToneScan:
    """The scan itself (blocking: call :func:`scan_tones` from the hub)."""
    samples = read_wav(path)
    longest = {f: longest_run(tone_blocks(samples, f)) * BLOCK_MS for f in freqs}
    return ToneScan(len(samples) * 1000 // RATE, longest)


def scan_tones(path: Path, freqs: list[int]) -> ToneScan:
    """:func:`scan` in gevent's threadpool: the hub is not blocked while the file is analysed."""
    result: ToneScan = gevent.get_hub().threadpool.apply(scan, (path, freqs))
    return result
