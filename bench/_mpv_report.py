"""What a run of bench.mpv_sync measured: drift of every member against the host by mpv's own
clocks, each transition's outcome, the corrections the host's own engine made, and the verdict
against the targets."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from bench._common import console, percentile
from bench._transitions import (
    STEADY_AFTER,
    TABLE_COLUMNS,
    Outcome,
    Transition,
    outcomes,
    summarise,
    table_rows,
)

if TYPE_CHECKING:
    from bench._mpv_probe import ProbeLog, Reading
    from bench.mpv_sync import Participant, Run

__all__ = ["analyse", "check_targets", "combine", "report"]

FRAME = 1 / 24
TARGET_STEADY_P95 = 0.020
TARGET_CONVERGE_P95 = 1.0
TARGET_CONVERGE_MAX = 2.0
TARGET_PEAK = 0.100
HOST_KINDS = ("seek", "pause", "play", "speed")
# A speed this far from the room's is a nudge (the engine's smallest step is 1%; its learned
# trim, at most 1% and in practice under 0.1%, is not).
_NUDGE = 0.009
USER_HOLD = 2.0
_SAMPLE_EVERY = 0.05


def _kind(what: str) -> str:
    return what.split()[0].rstrip("+-")


def _drift(host: Reading, member: Reading) -> tuple[float, float | None] | None:
    """(audio, frame) drift of ``member`` against ``host`` at the host's reading time.

    The audio drift is by what is heard: the audio clocks while either plays; while both are
    paused, by where each will resume (the frame shown), since a paused player's audio clock
    lags a seek made while paused by the audio it has prepared (100-200 ms)."""
    both_paused = host.paused and member.paused
    if both_paused and host.time_pos is not None and member.time_pos is not None:
        host_heard, member_heard = host.time_pos, member.time_pos
    else:
        host_heard, member_heard = host.audio_pts, member.audio_pts
    if host_heard is None or member_heard is None:
        return None
    # The two were read within a millisecond or so: move the member's to the host's instant.
    shift = (0.0 if member.paused else member.speed) * (host.at - member.at)
    audio = member_heard + shift - host_heard
    frame = None
    if host.time_pos is not None and member.time_pos is not None:
        frame = member.time_pos + shift - host.time_pos
    return audio, frame


def analyse(run: Run) -> dict[str, Any]:
    host = run.participants[0]
    speeds = _room_speeds(run)
    members: dict[str, Any] = {}
    all_outcomes: list[Outcome] = []
    frame_outcomes: list[Outcome] = []
    steady_audio: list[float] = []
    steady_frames: list[int] = []
    holds: list[float] = []
    follows: list[tuple[str, float]] = []
    steady_seeks = 0
    steady_seconds = 0.0
    for member in run.participants[1:]:
        series: list[tuple[float, float, float | None, bool]] = []
        for h, m in zip(host.readings, member.readings, strict=True):
            if h is None or m is None:
                continue
            drift = _drift(h, m)
            if drift is not None:
                series.append((h.at, drift[0], drift[1], not (h.paused or m.paused)))
        marks = [Transition(run.joined[member.name], "join")]
        for at, what, who in run.actions:
            if who == "all":
                marks.append(Transition(at, _kind(what)))
            elif who == member.name:
                resumed = next((t for t, p in member.log.pauses if t > at and not p), None)
                if resumed is not None:
                    holds.append(resumed - at)
                marks.append(Transition(at, "own pause", resumed if resumed else run.ended))
        found = outcomes([(t, a) for t, a, _, _ in series], member.log.seeks, marks, run.ended)
        all_outcomes.extend(found)
        # The same, by the frames shown.
        frames = [(t, f) for t, _, f, _ in series if f is not None]
        frame_outcomes.extend(outcomes(frames, member.log.seeks, marks, run.ended))
        starts = sorted(m.at for m in marks)
        for t, audio, frame, playing in series:
            if playing and _steady(starts, t):
                steady_audio.append(abs(audio))
                steady_seconds += _SAMPLE_EVERY
                if frame is not None:
                    steady_frames.append(abs(round(frame / FRAME)))
        steady_seeks += sum(1 for t in member.log.seeks if _steady(starts, t))
        follows.extend(_follow_delays(run, host, member))
        members[member.name] = {
            "outcomes": [asdict(o) for o in found],
            "seeks": len(member.log.seeks),
        }
    return {
        "members": members,
        "steady": _steady_summary(steady_audio, steady_frames),
        "_steady_audio": steady_audio,
        "_steady_frames": steady_frames,
        "steady_seeks": steady_seeks,
        "steady_member_seconds": steady_seconds,
        "_outcomes": all_outcomes,
        "_frame_outcomes": frame_outcomes,
        "holds": holds,
        "follows": follows,
        "host": _host_corrections(run, host.log, speeds),
        "host_steady": _host_steady_corrections(run, host.log, speeds),
        "actions": len(run.actions),
    }


def _follow_delays(run: Run, host: Participant, member: Participant) -> list[tuple[str, float]]:
    """For each pause and play the host made in its player: how long until the member's player
    did the same (mpv's own pause events). What a member plays on for while it hears of the
    host's action is the bound on that transition's peak drift: it cannot act before."""
    out: list[tuple[str, float]] = []
    for at, what, who in run.actions:
        kind = _kind(what)
        if who != "all" or kind not in ("pause", "play"):
            continue
        paused = kind == "pause"
        done = next((t for t, p in host.log.pauses if t >= at and p is paused), None)
        follow = next(
            (t for t, p in member.log.pauses if done is not None and t >= done and p is paused),
            None,
        )
        if done is not None and follow is not None and follow - done < STEADY_AFTER:
            out.append((kind, follow - done))
    return out


def _steady(starts: list[float], t: float) -> bool:
    last = max((s for s in starts if s <= t), default=None)
    return last is not None and t - last >= STEADY_AFTER


def _room_speeds(run: Run) -> list[tuple[float, float]]:
    out = [(0.0, 1.0)]
    for at, what, who in run.actions:
        if who == "all" and what.startswith("speed"):
            out.append((at, float(what.split()[1])))
    return out


def _speed_at(speeds: list[tuple[float, float]], t: float) -> float:
    return max((s for s in speeds if s[0] <= t), key=lambda s: s[0])[1]


def _host_corrections(
    run: Run, log: ProbeLog, speeds: list[tuple[float, float]]
) -> dict[str, dict[str, int]]:
    """Per kind of host action: how many, the seeks the host's own engine added in the 3 s
    after it, after how many its speed was nudged then, and its speed commands then."""
    host_actions = [(at, _kind(what)) for at, what, who in run.actions if who == "all"]
    out: dict[str, dict[str, int]] = {}
    bounds = [at for at, _ in host_actions] + [run.ended]
    for index, (at, kind) in enumerate(host_actions):
        limit = min(bounds[index + 1], at + STEADY_AFTER)
        entry = out.setdefault(kind, {"actions": 0, "engine_seeks": 0, "nudged": 0, "nudges": 0})
        entry["actions"] += 1
        seeks = sum(1 for t in log.seeks if at <= t < limit)
        entry["engine_seeks"] += max(0, seeks - (1 if kind == "seek" else 0))
        nudges = sum(
            1
            for t, value in log.speeds
            if at <= t < limit and abs(value / _speed_at(speeds, t) - 1) >= _NUDGE
        )
        entry["nudges"] += nudges
        entry["nudged"] += 1 if nudges else 0
    return out


def _host_steady_corrections(
    run: Run, log: ProbeLog, speeds: list[tuple[float, float]]
) -> dict[str, float]:
    """The host's own engine in steady playback (3 s or more after any action): its seeks and
    nudge speed commands, and for how long it played so."""
    marks = sorted([at for at, _, _ in run.actions] + [run.joined["host"]])
    seeks = sum(1 for t in log.seeks if _steady(marks, t))
    nudges = sum(
        1
        for t, value in log.speeds
        if _steady(marks, t) and abs(value / _speed_at(speeds, t) - 1) >= _NUDGE
    )
    seconds = 0.0
    for start, end in zip(marks, [*marks[1:], run.ended], strict=True):
        seconds += max(0.0, end - start - STEADY_AFTER)
    return {"seeks": seeks, "nudges": nudges, "seconds": seconds}


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    audio = [v for r in results for v in r["_steady_audio"]]
    frames = [v for r in results for v in r["_steady_frames"]]
    items: list[Outcome] = [o for r in results for o in r["_outcomes"]]
    by_kind: dict[str, list[Outcome]] = {}
    for o in items:
        by_kind.setdefault(o.kind, []).append(o)
    order = ["join", "seek", "pause", "play", "speed", "own pause"]
    host: dict[str, dict[str, int]] = {}
    for r in results:
        for kind, entry in r["host"].items():
            total = host.setdefault(kind, dict.fromkeys(entry, 0))
            for key, value in entry.items():
                total[key] += value
    holds = [h for r in results for h in r["holds"]]
    follows: dict[str, list[float]] = {}
    for r in results:
        for kind, delay in r["follows"]:
            follows.setdefault(kind, []).append(delay)
    steady_seconds = sum(r["steady_member_seconds"] for r in results)
    transitions = {k: summarise(by_kind[k]) for k in order if k in by_kind}
    frame_peaks: dict[str, list[float]] = {}
    for r in results:
        for o in r["_frame_outcomes"]:
            if o.peak is not None:
                frame_peaks.setdefault(o.kind, []).append(o.peak)
    for kind, summary in transitions.items():
        summary["frames_peak_max"] = max(frame_peaks.get(kind, []), default=None)
    host_steady = {
        key: sum(r["host_steady"][key] for r in results) for key in ("seeks", "nudges", "seconds")
    }
    return {
        "steady": _steady_summary(audio, frames),
        "steady_seeks": sum(r["steady_seeks"] for r in results),
        "steady_member_minutes": steady_seconds / 60,
        "transitions": transitions,
        "host": {k: host[k] for k in HOST_KINDS if k in host},
        "host_steady": host_steady,
        "follows": {
            kind: {
                "n": len(v),
                "p50": percentile(v, 50),
                "p95": percentile(v, 95),
                "max": max(v),
            }
            for kind, v in follows.items()
        },
        "holds": {
            "count": len(holds),
            "min": min(holds) if holds else None,
            "max": max(holds) if holds else None,
            "undone_early": sum(1 for h in holds if h < USER_HOLD - 0.1),
        },
    }


def _steady_summary(audio: list[float], frames: list[int]) -> dict[str, Any]:
    return {
        "samples": len(audio),
        "p50": percentile(audio, 50) if audio else None,
        "p95": percentile(audio, 95) if audio else None,
        "p99": percentile(audio, 99) if audio else None,
        "max": max(audio) if audio else None,
        "same_frame": sum(1 for f in frames if f == 0) / len(frames) if frames else None,
        "within_one_frame": sum(1 for f in frames if f <= 1) / len(frames) if frames else None,
    }


# ---------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, width=max(console.width, 130)).print(table)


def report(results: list[dict[str, Any]], total: dict[str, Any]) -> None:
    rows = []
    for label, steady, seeks in [
        *(
            (f"run {i + 1}", _steady_summary(r["_steady_audio"], r["_steady_frames"]),
             r["steady_seeks"])
            for i, r in enumerate(results)
        ),
        ("all runs", total["steady"], total["steady_seeks"]),
    ]:  # fmt: skip
        rows.append(
            [
                label,
                str(steady["samples"]),
                _ms(steady["p50"]),
                _ms(steady["p95"]),
                _ms(steady["p99"]),
                _ms(steady["max"]),
                _pct(steady["same_frame"]),
                _pct(steady["within_one_frame"]),
                str(seeks),
            ]
        )
    _table(
        "Steady |member - host| by audio-pts (ms); time-pos frames apart",
        ["", "samples", "p50", "p95", "p99", "max", "same frame", "<= 1 frame", "steady seeks"],
        rows,
    )
    _table(
        "Transitions: members against the host (peak by audio-pts; by time-pos, in frames)",
        [*TABLE_COLUMNS, "peak max frames"],
        [
            [*row, _frames(c["frames_peak_max"])]
            for row, c in zip(
                table_rows(total["transitions"]), total["transitions"].values(), strict=True
            )
        ],
    )
    host_rows = [
        [kind, str(e["actions"]), str(e["engine_seeks"]), str(e["nudged"]), str(e["nudges"])]
        for kind, e in total["host"].items()
    ]
    _table(
        "The host's own player after the host's actions: corrections by its own engine",
        ["after", "actions", "engine seeks", "actions then nudged", "nudge speed commands"],
        host_rows,
    )
    _table(
        "The host's pause and play in its player: until each member's player did the same (ms)",
        ["action", "n", "p50", "p95", "max"],
        [
            [kind, str(f["n"]), _ms(f["p50"]), _ms(f["p95"]), _ms(f["max"])]
            for kind, f in total["follows"].items()
        ],
    )
    steady = total["host_steady"]
    console.print(
        f"the host's own engine in steady playback: {steady['seeks']} seeks, "
        f"{steady['nudges']} nudge speed commands in {steady['seconds'] / 60:.1f} min"
    )
    holds = total["holds"]
    console.print(
        f"a member's own pause: {holds['count']} times, kept {_s(holds['min'])}-{_s(holds['max'])}"
        f" s before the engine resumed it; undone within the {USER_HOLD:g} s hold: "
        f"{holds['undone_early']}"
    )


def _frames(value: float | None) -> str:
    return "-" if value is None else str(round(value / FRAME))


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def check_targets(total: dict[str, Any]) -> list[str]:
    missed: list[str] = []
    p95 = total["steady"]["p95"]
    if p95 is None or p95 > TARGET_STEADY_P95:
        missed.append(f"steady p95 {_ms(p95)} ms > {TARGET_STEADY_P95 * 1000:.0f} ms")
    for kind in HOST_KINDS:
        c = total["transitions"].get(kind)
        if c is None:
            continue
        if c["not_converged"] or c["p95"] is None or c["p95"] > TARGET_CONVERGE_P95:
            missed.append(f"{kind}: converged p95 {_s(c['p95'])} s ({c['not_converged']} never)")
        if c["max"] is not None and c["max"] > TARGET_CONVERGE_MAX:
            missed.append(f"{kind}: converged max {_s(c['max'])} s > {TARGET_CONVERGE_MAX:g} s")
        if c["peak_max"] is not None and c["peak_max"] >= TARGET_PEAK:
            missed.append(f"{kind}: peak drift {_ms(c['peak_max'])} ms >= 100 ms")
        if c["seeks_max"] is not None and c["seeks_max"] > 1:
            missed.append(f"{kind}: a member seeked {c['seeks_max']} times")
    for kind, e in total["host"].items():
        if e["engine_seeks"] or e["nudged"]:
            missed.append(
                f"host corrected after {kind}: {e['engine_seeks']} seeks, "
                f"nudged {e['nudged']} times"
            )
    if total["holds"]["undone_early"]:
        missed.append(f"a member's own pause undone early {total['holds']['undone_early']} times")
    return missed
