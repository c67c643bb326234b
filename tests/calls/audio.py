"""Listening to recordings in tests: read a WAV through the engine, find tones by Goertzel."""

from __future__ import annotations

from pathlib import Path

from appliance.voiceboard import wavscan


def tone_runs_in_file(path: Path, freq: float, min_ratio: float = 0.5,
                      min_amplitude: float = 0.0) -> list[tuple[int, int]]:
    """Runs of 20 ms blocks of ``freq`` in a WAV, computed off the hub (gevent's threadpool)."""
    import gevent

    def work() -> list[tuple[int, int]]:
        return runs(tone_blocks(wavscan.read_wav(path), freq, min_ratio, min_amplitude))

    result: list[tuple[int, int]] = gevent.get_hub().threadpool.apply(work)
    return result


def tone_blocks(samples: list[int], freq: float, min_ratio: float = 0.5,
                min_amplitude: float = 0.0) -> list[bool]:
    """Per 20 ms block: is ``freq`` there (energy share, or with ``min_amplitude`` its own amplitude)?"""
    return wavscan.tone_blocks(samples, freq, min_ratio, min_energy=1e3, min_amplitude=min_amplitude)


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
