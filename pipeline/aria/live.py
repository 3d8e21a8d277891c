"""``ostinato live``: listen to a player, continue in real time when they stop, hand back when they play.

Behaviour follows upstream Aria's real-time demo (``demo/demo_mlx.py``), rebuilt on this
project's model, tokenizer and sampler:

* **listen**: every input message is stamped, forwarded to the through port and added to the
  :class:`~pipeline.aria.live_score.Performance`; the stable prefix of its tokens is encoded into
  the KV cache as it grows (:class:`~pipeline.aria.live_stream.StreamingContext`), so little is
  left to encode when the player stops.
* **take over** when the input is exhausted (a file played as input), when a control-change
  ``control_cc`` >= 64 arrives (upstream's ``--midi_control_signal``), or after ``silence_ms``
  with no key down (upstream waits for a key press; silence makes a file or a port work alone).
* **continue**: keys still down are released in the prompt at the stop, and the notes so cut
  get the model's longer duration if it expects one (:mod:`pipeline.aria.live_durations`);
  <T> tokens bring the prompt up to the present. The first two tokens are chosen as upstream
  does (3 candidates, <T> always one of them at log-probability - 5, each followed by its most
  likely token; the best pair wins); the first note may not start in the past; <D> and <E>
  are never sampled (as upstream: the player or the time limit ends a turn). Upstream masks
  past onsets for the first note only; here every onset the clock has passed is masked
  (upstream would drop such a note), which matters only when generation falls behind the
  music. A generator thread samples tokens; the main loop sends each note when the clock
  reaches its onset; a message more than ``late_ms`` late is dropped (upstream's
  ``MAX_STREAM_DELAY_MS``), so a slow model plays fewer notes instead of drifting. A turn
  ends after ``max_seconds``, at the context's end, or when the player plays a note: **hand
  back**, every sounding model note is released at once and listening resumes with the
  model's notes in the context.

The session ends when a file input is exhausted and its continuation is over (a port session
runs until interrupted). ``result.turns`` holds the numbers that decide whether it feels live.
"""

from __future__ import annotations

import dataclasses
import heapq
import queue
import threading
import time
from dataclasses import dataclass, field

import mido
import torch

from pipeline.aria.continue_ import Sampling
from pipeline.aria.live_durations import lengthen_cut_notes
from pipeline.aria.live_io import Clock, Timed, is_note_on
from pipeline.aria.live_score import MODEL, PLAYER, Performance, TimedEvent, TokenTimer
from pipeline.aria.live_stream import StreamingContext
from pipeline.aria.tokenizer import PED_OFF, AbsTokenizer
from pipeline.sample.sampling import sample_next

FIRST_BEAM, TIME_PENALTY = 3, -5.0  # upstream's BEAM_WIDTH and TIME_TOK_WEIGHTING
POLL_MS = 2  # main-loop tick: sends land within a few ms of their onset
ENCODE_EVERY_MS = 50  # how often the growing performance is encoded while the player plays


@dataclass(frozen=True)
class LiveOptions:
    sampling: Sampling = Sampling()
    seed: int | None = None
    silence_ms: int = 2000
    control_cc: int | None = None
    max_seconds: float = 30.0
    late_ms: int = 100
    lead_ms: int = 0  # the first note starts at least this long after the moment it is sampled
    channel: int = 0  # output channel of the model's notes


@dataclass
class Turn:
    """One continuation: times are clock ms; speeds are per second of generator compute."""

    stop_ms: int  # the moment the model took over
    input_end_ms: int = 0  # the player's last message before it
    prompt_tokens: int = 0
    encoded_at_stop: int = 0  # tokens still to encode when the player stopped
    lengthened: int = 0  # notes cut by the stop whose duration the model re-predicted longer
    first_ready_ms: int | None = None  # the first note sampled (compute latency)
    first_note_ms: int | None = None  # the first note sent (at its onset, as the model chose it)
    first_onset_ms: int | None = None  # that note's onset on the clock
    tokens: int = 0
    notes_generated: int = 0
    notes_sent: int = 0
    notes_dropped: int = 0
    compute_s: float = 0.0
    needed_notes_per_s: float = 0.0
    handed_back: bool = False

    @property
    def time_to_first_note_ms(self) -> int | None:
        return None if self.first_note_ms is None else self.first_note_ms - self.stop_ms

    @property
    def notes_per_s(self) -> float:
        return self.notes_generated / self.compute_s if self.compute_s > 0 else 0.0

    @property
    def ratio(self) -> float:
        """Generated notes/s over the notes/s the output needs (the prompt's rate); > 1 keeps up."""
        return self.notes_per_s / self.needed_notes_per_s if self.needed_notes_per_s > 0 else float("inf")


@dataclass
class LiveResult:
    player: list[Timed] = field(default_factory=list)
    sent: list[Timed] = field(default_factory=list)
    lateness_ms: list[int] = field(default_factory=list)  # per note sent: send time - its onset
    turns: list[Turn] = field(default_factory=list)


class _Generator(threading.Thread):
    """Samples tokens after ``logits`` into ``out`` until stopped, out of time or out of context."""

    def __init__(self, session: "LiveSession", logits, timer: TokenTimer, earliest_ms: int, end_ms: int) -> None:
        super().__init__(daemon=True)
        self.s, self.logits, self.timer = session, logits, timer
        self.earliest_ms, self.end_ms = earliest_ms, end_ms
        self.out: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.compute_s, self.error = 0.0, None
        self.noted = False  # a note of this turn has been sampled

    def run(self) -> None:
        try:
            self._loop()
        except Exception as e:  # noqa: BLE001 - handed to the main thread, which raises it
            self.error = e
        finally:
            self.out.put(None)

    def _masked(self, logits, first: bool, segment: int, expects_onset: bool, at_boundary: bool):
        """[1, V] logits with what may not come next at -inf (see the module doc)."""
        s, tok = self.s, self.s.tok
        logits = logits.clone()[None]
        logits[:, s.banned] = float("-inf")
        if first:
            logits[:, s.first_banned] = float("-inf")
        # no onset the clock has already passed (such a note could only be late or dropped),
        # none before ``earliest`` (the moment the turn's first token was sampled)
        floor = max(s.clock.now_ms() - s.perf.t0_ms, self.earliest_ms) - segment * tok.abs_step
        if floor >= tok.abs_step and at_boundary:  # the clock is past this 5 s segment
            logits[:, s.all_but_time] = float("-inf")
        elif expects_onset and 0 < floor < tok.abs_step:
            logits[:, s.onset_ids[: -(-floor // tok.time_step)]] = float("-inf")
        return logits

    def _first_pair(self, logits) -> tuple[int, int]:
        """Upstream's start of a turn: the best of 3 candidate first tokens (<T> always one of
        them, its log-probability - 5) each followed by its most likely next token."""
        s, tok, timer = self.s, self.s.tok, self.timer
        lp = torch.log_softmax(self._masked(logits, True, timer.segment, False, True)[0], -1)
        cands = lp.topk(FIRST_BEAM).indices.tolist()
        if tok.time_id not in cands:
            cands[-1] = tok.time_id
        best, keep = None, len(s.ctx.ids)
        for c in cands:
            nxt = s.ctx.step(c)
            s.ctx.rewind(keep)
            is_time, kind = c == tok.time_id, tok.kind(tok.vocab[c])
            timed = kind in ("note", "pedal")
            masked = self._masked(nxt, True, timer.segment + is_time, timed, not timed)
            if is_time:
                masked[:, tok.time_id] = float("-inf")
            lp2 = torch.log_softmax(masked[0], -1)
            c2 = int(lp2.argmax())
            score = float(lp[c]) + TIME_PENALTY * is_time + float(lp2[c2])
            if best is None or score > best[0]:
                best = (score, c, c2)
        return best[1], best[2]

    def _emit(self, token_id: int):
        """Append a chosen token: to the timer, the queue and the cache; the next logits."""
        s = self.s
        token = s.tok.vocab[token_id]
        event = self.timer.push(token)
        if event is not None and event.on_ms > self.end_ms:
            return None
        self.noted = self.noted or (event is not None and event.pitch is not None)
        self.out.put((token, event))
        return s.ctx.step(token_id) if len(s.ctx.ids) + 1 < s.ctx.max_len else None

    def _loop(self) -> None:
        s, timer = self.s, self.timer
        t = time.perf_counter()
        for c in self._first_pair(self.logits):
            logits = self._emit(c)
            if logits is None:
                return
        self.compute_s += time.perf_counter() - t
        while not self.stop.is_set():
            t = time.perf_counter()
            logits = self._masked(logits, not self.noted, timer.segment, timer.expects_onset, timer.at_boundary)
            o = s.opts.sampling
            nxt = sample_next(logits, temperature=o.temp, min_p=o.min_p, top_p=o.top_p, top_k=o.top_k, generator=s.gen)
            logits = self._emit(int(nxt[0]))
            self.compute_s += time.perf_counter() - t
            if logits is None:
                return


class LiveSession:
    """Drive ``model`` (generate-protocol; MLX behind its TorchAdapter) from ``inp`` to ``out``."""

    def __init__(
        self, model, tok: AbsTokenizer, inp, out, clock: Clock, opts: LiveOptions = LiveOptions(), through=None
    ) -> None:
        self.tok, self.inp, self.out, self.through, self.clock = tok, inp, out, through, clock
        self.opts = dataclasses.replace(opts, sampling=opts.sampling.resolved())
        self.ctx = StreamingContext(model)
        self.perf = Performance(tok)
        self.result = LiveResult()
        self.gen = torch.Generator(device=self.ctx.device)
        self.gen.manual_seed(opts.seed) if opts.seed is not None else self.gen.seed()
        self.banned = [tok.dim_id, tok.eos_id, tok.pad_id, tok.bos_id, tok.unk_id]
        self.first_banned = [tok.tok_to_id[PED_OFF]] if PED_OFF in tok.tok_to_id else []
        self.onset_ids = [tok.tok_to_id[("onset", o)] for o in tok.onset_grid]  # by onset, 10 ms apart
        self.all_but_time = [i for i in range(tok.vocab_size) if i != tok.time_id]
        self._last_input_ms = 0
        self._fresh = False  # the player played since the last turn
        self._encoded_ms = -ENCODE_EVERY_MS

    # ------------------------------------------------------------------ listening
    def _take(self, events: list[Timed]) -> None:
        for t, msg in events:
            self.perf.add(t, msg, PLAYER)
            self.result.player.append((t, msg))
            self._last_input_ms = t
            self._fresh = self._fresh or is_note_on(msg)
            if self.through is not None:
                self.through.send(msg)

    def _control(self, events: list[Timed]) -> bool:
        cc = self.opts.control_cc
        return cc is not None and any(
            m.type == "control_change" and m.control == cc and m.value >= 64 for _, m in events
        )

    def listen(self) -> bool:
        """Until the player stops; False when the input ended with nothing more to continue."""
        while True:
            events = self.inp.poll()
            self._take(events)
            now = self.clock.now_ms()
            if not self._fresh:
                if self.inp.exhausted:
                    return False
            elif (
                self._control(events)
                or self.inp.exhausted
                or (self.perf.notes_held == 0 and now - self._last_input_ms >= self.opts.silence_ms)
            ):
                return True
            if events and now - self._encoded_ms >= ENCODE_EVERY_MS:
                self.ctx.sync(self.tok.encode(self.perf.stable_tokens(now)))
                self._encoded_ms = now
            self.clock.sleep_ms(POLL_MS)

    # ------------------------------------------------------------------ continuing
    def continue_(self) -> Turn:
        tok, perf, opts = self.tok, self.perf, self.opts
        stop = self.clock.now_ms()
        turn = Turn(stop_ms=stop, input_end_ms=self._last_input_ms, needed_notes_per_s=perf.note_rate(PLAYER))
        self._fresh = False
        prompt = perf.prompt(stop)
        ids = tok.encode(prompt)
        turn.prompt_tokens, turn.encoded_at_stop = len(ids), len(ids) - self.ctx.common_prefix(ids)
        prompt, turn.lengthened = lengthen_cut_notes(self.ctx, tok, prompt)
        logits = self.ctx.prime(tok.encode(prompt))
        t0 = perf.t0_ms
        timer = TokenTimer(tok, prompt.count("<T>"))
        earliest = self.clock.now_ms() + opts.lead_ms - t0
        gen = _Generator(self, logits, timer, earliest, stop - t0 + int(opts.max_seconds * 1000))
        gen.start()
        pending: list = []  # heap of (clock ms, kind, note id, message)
        sounding: dict[int, int] = {}  # pitch -> note id now sounding
        dropped: set[int] = set()
        order, finished = 0, False
        try:
            while True:
                while True:
                    try:
                        item = gen.out.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        finished = True
                        break
                    turn.tokens += 1
                    event: TimedEvent | None = item[1]
                    if event is not None:
                        order += 1
                        for when, kind, msg in self._messages(event, t0):
                            heapq.heappush(pending, (when, kind, order, msg))
                        turn.notes_generated += event.pitch is not None
                        if turn.first_ready_ms is None and event.pitch is not None:
                            turn.first_ready_ms = self.clock.now_ms()
                events = self.inp.poll()
                now = self.clock.now_ms()
                if any(is_note_on(m) for _, m in events):
                    turn.handed_back = True
                    self._take(events)
                    break
                self._take(events)
                while pending and pending[0][0] <= now:
                    when, kind, note_id, msg = heapq.heappop(pending)
                    self._send_due(turn, now, when, kind, note_id, msg, sounding, dropped)
                if finished and not pending:
                    break
                self.clock.sleep_ms(POLL_MS)
        finally:
            gen.stop.set()
            gen.join()
            turn.compute_s = gen.compute_s
            self._release(sounding)
            self.result.turns.append(turn)
        if gen.error is not None:
            raise gen.error
        return turn

    def _messages(self, e: TimedEvent, t0: int) -> list[tuple[int, int, mido.Message]]:
        """(clock ms, kind, message); kind orders one instant: 0 note-off, 1 pedal, 2 note-on."""
        ch = self.opts.channel
        if e.pitch is None:
            return [(t0 + e.on_ms, 1, mido.Message("control_change", control=64, value=e.velocity, channel=ch))]
        return [
            (t0 + e.on_ms, 2, mido.Message("note_on", note=e.pitch, velocity=max(1, min(127, e.velocity)), channel=ch)),
            (t0 + e.off_ms, 0, mido.Message("note_off", note=e.pitch, velocity=0, channel=ch)),
        ]

    def _send_due(self, turn: Turn, now: int, when: int, kind: int, note_id: int, msg, sounding, dropped) -> None:
        if kind == 2:
            if now - when > self.opts.late_ms:
                dropped.add(note_id)
                turn.notes_dropped += 1
                return
            if msg.note in sounding:  # re-strike: end the earlier note first
                self._send(mido.Message("note_off", note=msg.note, velocity=0, channel=msg.channel))
            sounding[msg.note] = note_id
            turn.notes_sent += 1
            self.result.lateness_ms.append(now - when)
            if turn.first_note_ms is None:
                turn.first_note_ms, turn.first_onset_ms = self.clock.now_ms(), when
        elif kind == 0:
            if note_id in dropped or sounding.get(msg.note) != note_id:
                return
            del sounding[msg.note]
        elif now - when > self.opts.late_ms:
            return
        self._send(msg)

    def _send(self, msg: mido.Message) -> None:
        t = self.clock.now_ms()
        self.out.send(msg)
        self.result.sent.append((t, msg))
        self.perf.add(t, msg, MODEL)

    def _release(self, sounding: dict[int, int]) -> None:
        """End the turn silent: every sounding model note off, the model's pedal up."""
        for pitch in list(sounding):
            self._send(mido.Message("note_off", note=pitch, velocity=0, channel=self.opts.channel))
        sounding.clear()
        if self.perf.pedal_down(MODEL):
            self._send(mido.Message("control_change", control=64, value=0, channel=self.opts.channel))

    # ------------------------------------------------------------------ the session
    def run(self) -> LiveResult:
        while self.listen():
            turn = self.continue_()
            if self.inp.exhausted and not turn.handed_back:
                break
        return self.result
