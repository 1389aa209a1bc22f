// The host's controls: play/pause, seek, speed, through the sync-control function. The room
// allows a host 2 changes a second: one request at a time, a burst (a dragged seek bar)
// coalesced to its last target, a refusal waited out, so the last action always lands.
import { call, explain } from './api.js';
import { h, fill, clockText } from './dom.js';

const START_DELAY = 0.25; // play: everyone starts together this far ahead (as the SDK host)
const SEEK_DELAY = 0.6; // seek while playing: everyone lands, then starts together
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];

export class HostControls {
  constructor(app, { roomId, clock, room, livePosition, duration, onError }) {
    this.app = app;
    this.roomId = roomId;
    this.clock = clock;
    this.room = room; // () => the playback state now
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
    this.submit({ action: 'speed', playback_speed: rate });
  }

  atIn(seconds) {
    return new Date((this.clock.serverNow() + seconds) * 1000).toISOString();
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
      const { delay, ...request } = body;
      if (delay !== undefined) request.at = this.atIn(delay);
      try {
        await call(this.app.supabase, 'sync-control', { room_id: this.roomId, ...request });
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
