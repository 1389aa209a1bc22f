// The host's (and co-hosts') controls: play/pause, seek, speed, through the sync-control
// function, and skipping the opening or ending (rooms-skip). The room allows 2 playback changes
// a second, whoever makes them: one request at a time, a burst (a dragged seek bar) coalesced
// to its last target, a refusal waited out, so the last action always lands.
//
// The host's video is the room's reference (watchium_client/session/_hosting.py): a speed
// change is scheduled a start delay plus the video's learned speed latency ahead, where the
// room will be then, so every player is heard changing tempo at that instant; and when the
// host's video ends up off the room after an action, the room is moved to it (reanchor).
import { call, explain } from './api.js';
import { h, fill, clockText } from './dom.js';
import { speedAt, targetPosition } from './sync/playback.js';

const START_DELAY = 0.25; // play: everyone starts together this far ahead (as the SDK host)
const SEEK_DELAY = 0.6; // seek while playing: everyone lands, then starts together
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
// The database takes a reference time within 5 s of its clock: an older one (a change that
// waited out rate limits) is sent without it, meaning "now" (_MAX_REFERENCE_AGE).
const MAX_REFERENCE_AGE = 4.0;

/** A position rounded to what the database stores (hundredths), with its reference time moved
 *  so the pair still describes the same playback (storable_reference). */
export function storableReference(position, at, movingSpeed) {
  const rounded = Math.round(Math.max(0, position) * 100) / 100;
  if (at === null || movingSpeed <= 0) return [rounded, at];
  return [rounded, at + (rounded - position) / movingSpeed];
}

/**
 * The speed change for a room in `state` at server time `now` (plan_change's "speed"): while
 * playing, the room keeps its tempo until `delay` from now (never before a scheduled start)
 * and changes at that instant, from where it gets by then; while paused, it applies now.
 */
export function planSpeed(state, now, speed, delay) {
  const newSpeed = Math.round(speed * 100) / 100;
  if (!state.isPlaying) {
    const [position, at] = storableReference(targetPosition(state, now), now, 0);
    return { action: 'speed', current_time: position, playback_speed: newSpeed, at };
  }
  const when = Math.max(now + delay, state.updatedAt);
  const moving = speedAt(state, when - 1e-6) || newSpeed;
  const [position, at] = storableReference(targetPosition(state, when), when, moving);
  return { action: 'speed', current_time: position, playback_speed: newSpeed, at };
}

export class HostControls {
  /**
   * @param room          () => the playback state now (the engine's, which knows a scheduled
   *                      speed change from a scheduled start)
   * @param speedLatency  () => the host's video's learned speed latency, seconds
   */
  constructor(app, { roomId, clock, room, livePosition, duration, onError, speedLatency = () => 0 }) {
    this.app = app;
    this.roomId = roomId;
    this.clock = clock;
    this.room = room; // () => the playback state now
    this.speedLatency = speedLatency;
    this.livePosition = livePosition; // () => where the room is now
    this.duration = duration; // () => the video's duration (NaN before metadata)
    this.onError = onError;
    this.pending = null;
    this.busy = false;
    this.toggle = h('button.primary.toggle', { type: 'button', onclick: () => this.togglePlay(), 'aria-keyshortcuts': 'Space' }, 'Play');
    this.back = h('button', { type: 'button', onclick: () => this.seekBy(-10), 'aria-label': 'Back 10 seconds', 'aria-keyshortcuts': 'J' }, '−10 s');
    this.fwd = h('button', { type: 'button', onclick: () => this.seekBy(10), 'aria-label': 'Forward 10 seconds', 'aria-keyshortcuts': 'L' }, '+10 s');
    this.bar = h('input.seekbar', { type: 'range', min: 0, max: 100, step: 0.1, value: '0', 'aria-label': 'Seek' });
    this.bar.addEventListener('change', () => this.seekTo(Number(this.bar.value)));
    this.bar.addEventListener('input', () => {
      this.dragging = true;
    });
    this.time = h('span.time', { 'aria-live': 'off' }, '0:00');
    this.speed = h('select.speed', { 'aria-label': 'Speed' }, SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`)));
    this.speed.value = '1';
    this.speed.addEventListener('change', () => this.setSpeed(Number(this.speed.value)));
    this.element = h('div.host-controls', { role: 'group', 'aria-label': 'Host controls' }, this.toggle, this.back, this.fwd, this.bar, this.time, this.speed);
  }

  /** Refreshes the controls from the room (a few times a second). */
  render() {
    const room = this.room();
    if (!room) return;
    fill(this.toggle, room.isPlaying ? 'Pause' : 'Play');
    const duration = this.duration();
    const pos = this.livePosition();
    if (Number.isFinite(duration) && duration > 0) this.bar.max = String(duration);
    if (!this.dragging && document.activeElement !== this.bar) this.bar.value = String(pos);
    this.dragging = false;
    fill(this.time, `${clockText(pos)}${Number.isFinite(duration) ? ` / ${clockText(duration)}` : ''}`);
    if (document.activeElement !== this.speed) this.speed.value = String(room.speed);
  }

  togglePlay() {
    const room = this.room();
    if (!room) return;
    if (room.isPlaying) this.submit({ action: 'pause' });
    else this.submit({ action: 'play', current_time: this.livePosition(), delay: START_DELAY });
  }

  seekBy(delta) {
    this.seekTo(this.livePosition() + delta);
  }

  seekTo(position) {
    const room = this.room();
    if (!room) return;
    const duration = this.duration();
    let target = Math.max(0, position);
    if (Number.isFinite(duration)) target = Math.min(target, Math.max(0, duration - 0.5));
    target = Math.round(target * 100) / 100;
    const body = { action: 'seek', current_time: target };
    if (room.isPlaying) body.delay = SEEK_DELAY;
    this.submit(body);
  }

  setSpeed(rate) {
    // Everyone is told the new tempo ahead: the round trips of a scheduled start, plus the time
    // the host's own video takes to be heard changing speed (Hosting.set_speed). Planned when
    // the request leaves, from the room as it is then.
    this.submit({ plan: () => {
      const room = this.room();
      return room && planSpeed(room, this.clock.serverNow(), rate, START_DELAY + this.speedLatency());
    } });
  }

  /**
   * The engine's report that the host's video is at `position` at server time `at`, off the
   * room after the host's own action: the room moves there, a seek with no restart
   * (Hosting._reanchor). Not while paused, nor while a newer change is on its way.
   */
  reanchor(position, at) {
    const room = this.room();
    if (!room || !room.isPlaying || this.busy || this.pending) return;
    const [stored, reference] = storableReference(position, at, room.speed);
    this.submit({ action: 'seek', current_time: stored, at: reference });
  }

  /**
   * Skip the opening or ending for everyone (rooms-skip): a playback change like the others, so
   * it waits its turn and waits out the room's playback budget. `done(room)` on success.
   */
  skip(segment, done) {
    this.submit({ endpoint: 'rooms-skip', segment, done });
  }

  atIn(seconds) {
    return this.clock.serverNow() + seconds;
  }

  submit(body) {
    this.pending = body;
    if (!this.busy) this.drain();
  }

  async drain() {
    this.busy = true;
    while (this.pending) {
      const body = this.pending;
      this.pending = null;
      // The start time is taken when the request leaves, so a wait never makes it stale.
      const { delay, plan, endpoint = 'sync-control', done, ...fields } = body;
      const request = plan ? plan() : fields;
      if (!request) continue;
      if (delay !== undefined) request.at = this.atIn(delay);
      if (request.at !== undefined && request.at !== null) {
        if (Math.abs(this.clock.serverNow() - request.at) > MAX_REFERENCE_AGE) delete request.at;
        else request.at = new Date(request.at * 1000).toISOString();
      }
      try {
        const answer = await call(this.app.supabase, endpoint, { room_id: this.roomId, ...request });
        if (done) done(answer);
      } catch (err) {
        if (err.code === 'WR429' && err.retryAfter !== null) {
          if (!this.pending) this.pending = body;
          await new Promise((resolve) => setTimeout(resolve, Math.max(100, err.retryAfter * 1000)));
          continue;
        }
        this.onError(explain(err));
      }
    }
    this.busy = false;
  }
}
