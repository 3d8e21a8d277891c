"""The edges of ``ostinato live``: a clock, timed MIDI input, MIDI output and the saved file.

Every message carries a time in milliseconds on one :class:`Clock`. Inputs are polled and
return ``(t_ms, message)`` pairs stamped when the message arrived (a port stamps in mido's
callback thread, so a busy model never delays a stamp); a MIDI file played as mock input
(:class:`ScriptedInput`) releases each message once the clock reaches its time in the file.
Outputs only ``send``; :class:`RecordingOutput` keeps what it got, stamped on its own reading
of the clock (the tests' in-memory port). Real ports need mido's python-rtmidi backend.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import mido

from pipeline.aria.midi import TICKS_PER_BEAT_OUT
from pipeline.data.notes import DEFAULT_TEMPO

Timed = tuple[int, mido.Message]
PEDAL_CC = 64
LIVE_TYPES = ("note_on", "note_off", "control_change")  # what a piano sends that the model reads


class Clock:
    """Milliseconds since creation. ``speed`` > 1 runs a test faster than real time: model
    compute then counts ``speed`` times more, so it can only make timing worse, never hide it."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self.speed, self._t0 = speed, time.perf_counter()

    def now_ms(self) -> int:
        return int((time.perf_counter() - self._t0) * 1000 * self.speed)

    def sleep_ms(self, ms: float) -> None:
        if ms > 0:
            time.sleep(ms / 1000 / self.speed)


def is_note_on(msg: mido.Message) -> bool:
    return msg.type == "note_on" and msg.velocity > 0


def is_note_off(msg: mido.Message) -> bool:
    return msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)


class ScriptedInput:
    """Timed messages released when the clock reaches them (``start_ms`` = time 0 of the script)."""

    def __init__(self, events: list[Timed], clock: Clock, start_ms: int = 0) -> None:
        self.clock, self._events, self._next = clock, sorted(events, key=lambda e: e[0]), 0
        self.start_ms = start_ms

    @classmethod
    def from_file(cls, path: str | Path, clock: Clock, start_ms: int = 0) -> "ScriptedInput":
        """A MIDI file played as input in real time: its note, pedal and control messages at
        their file times (tempo map applied, as ``mido.MidiFile.play`` does)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no MIDI file at {path}")
        try:
            mid = mido.MidiFile(str(path))
            events, t = [], 0.0
            for msg in mid:  # merged tracks, msg.time in seconds
                t += msg.time
                if not msg.is_meta and msg.type in LIVE_TYPES:
                    events.append((round(t * 1000), msg.copy(time=0)))
        except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as e:
            raise ValueError(f"{path}: not a readable MIDI file ({e})") from None
        if not any(is_note_on(m) for _, m in events):
            raise ValueError(f"{path}: contains no notes to play as input")
        return cls(events, clock, start_ms)

    def poll(self) -> list[Timed]:
        now, out = self.clock.now_ms() - self.start_ms, []
        while self._next < len(self._events) and self._events[self._next][0] <= now:
            t, msg = self._events[self._next]
            out.append((t + self.start_ms, msg))
            self._next += 1
        return out

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._events)

    def close(self) -> None:
        pass


class PortInput:
    """A MIDI input port; messages are stamped in mido's callback thread as they arrive."""

    exhausted = False  # a player can always come back

    def __init__(self, name: str, clock: Clock) -> None:
        self.clock, self._lock, self._got = clock, threading.Lock(), []
        self._port = open_port(mido.open_input, name, "input", callback=self._receive)

    def _receive(self, msg: mido.Message) -> None:
        if msg.type in LIVE_TYPES:
            with self._lock:
                self._got.append((self.clock.now_ms(), msg))

    def poll(self) -> list[Timed]:
        with self._lock:
            out, self._got = self._got, []
        return out

    def close(self) -> None:
        self._port.close()


class PortOutput:
    def __init__(self, name: str) -> None:
        self._port = open_port(mido.open_output, name, "output")

    def send(self, msg: mido.Message) -> None:
        self._port.send(msg)

    def close(self) -> None:
        self._port.close()


class RecordingOutput:
    """An in-memory output port: ``sent`` holds (clock ms at send, message)."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.sent = clock, []

    def send(self, msg: mido.Message) -> None:
        self.sent.append((self.clock.now_ms(), msg.copy()))

    def close(self) -> None:
        pass


def port_names(kind: str) -> list[str]:
    """Names of the MIDI ``kind`` ("input"/"output") ports; no MIDI system is a one-line RuntimeError."""
    lister = mido.get_input_names if kind == "input" else mido.get_output_names
    try:
        return lister()
    except Exception as e:  # noqa: BLE001 - rtmidi raises its own classes when no MIDI system is up
        raise RuntimeError(f"cannot list MIDI {kind} ports (python-rtmidi backend): {e}") from None


def open_port(opener, name: str, kind: str, **kw):
    """Open a port by name with mido's default (python-rtmidi) backend; unknown names are a
    ValueError that lists the ports there are."""
    names = port_names(kind)
    if name not in names:
        raise ValueError(f"no MIDI {kind} port named {name!r}; ports: {names or 'none'}")
    return opener(name, **kw)


def silence(out) -> None:
    """Sustain pedal up and every note off on channel 0, as upstream's demo does at exit."""
    out.send(mido.Message("control_change", control=PEDAL_CC, value=0))
    for note in range(128):
        out.send(mido.Message("note_off", note=note, velocity=0))


def timed_midi(tracks: list[list[Timed]], origin_ms: int) -> mido.MidiFile:
    """Type-1 MIDI at 1 tick = 1 ms (500 ticks/beat, 120 bpm) from ``origin_ms``: one track per list."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT_OUT)
    for k, events in enumerate(tracks):
        track, now = mido.MidiTrack(), origin_ms
        if k == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=DEFAULT_TEMPO, time=0))
        for t, msg in sorted(events, key=lambda e: e[0]):
            t = max(t, now)
            track.append(msg.copy(time=t - now))
            now = t
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    return mid


def save_midi(path: str | Path, tracks: list[list[Timed]]) -> Path:
    """Write ``tracks`` (track 0: the player, track 1: the model) atomically, timed from the first message."""
    path = Path(path)
    times = [t for events in tracks for t, _ in events]
    mid = timed_midi(tracks, min(times, default=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    mid.save(str(tmp))
    os.replace(tmp, path)
    return path


def read_tracks(path: str | Path) -> list[list[Timed]]:
    """The (ms from the file's start, message) pairs of each track of a file :func:`save_midi` wrote."""
    mid = mido.MidiFile(str(path))
    out = []
    for track in mid.tracks:
        t, events = 0, []
        for msg in track:
            t += msg.time
            if not msg.is_meta:
                events.append((t, msg.copy(time=0)))
        out.append(events)
    return out
