"""Listening to a recording: which test tones does a WAV hold, and for how long.

The WAV is read by the media engine's own reader (A-law or linear, as the engine writes it) and each
20 ms block is tested for each frequency with a Goertzel filter. The work runs in gevent's
threadpool: the hub goes on serving the board meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gevent

from appliance.voiceboard.wavscan import BLOCK_MS, RATE, longest_run, read_wav, tone_blocks


@dataclass(frozen=True)
class ToneScan:
    duration_ms: int
    longest_ms: dict[int, int]      # frequency (Hz) -> longest unbroken run of it, in ms


def scan(path: Path, freqs: list[int]) -> ToneScan:
    """The scan itself (blocking: call :func:`scan_tones` from the hub)."""
    samples = read_wav(path)
    longest = {f: longest_run(tone_blocks(samples, f)) * BLOCK_MS for f in freqs}
    return ToneScan(len(samples) * 1000 // RATE, longest)


def scan_tones(path: Path, freqs: list[int]) -> ToneScan:
    """:func:`scan` in gevent's threadpool: the hub is not blocked while the file is analysed."""
    result: ToneScan = gevent.get_hub().threadpool.apply(scan, (path, freqs))
    return result
