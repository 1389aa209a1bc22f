// The browser's sync engine: reads the player, computes where the room is from its row and
// the server clock, lets the pure policy decide (policy.js, the Python engine's decisions)
// and applies the decision, as watchium_client's SyncEngine (sync/_engine.py) does.
//
// One player is the room's reference: the host's. Every change of the room is its user's own
// action, so it is not corrected for it; if it ends up off the room, the room is moved to it
// (`reference.reanchor`, as the Python session's RoomReference).
import { decide, initialState, observation, Phase } from './policy.js';
import { DEFAULT_THRESHOLDS } from './thresholds.js';
import { continuing, hasStarted, samePlayback, speedAt, targetPosition } from './playback.js';
import { SpeedLatency } from './speed_latency.js';

const MEASURED = new Set([Phase.IN_SYNC, Phase.CORRECTING]);

export class SyncEngine {
  /**
   * @param player  {position(), isPlaying, speed, isSeeking, isBuffering, play(), pause(),
   *                 seek(t), setSpeed(r)}
   * @param clock   a ClockSync
   * @param reference  {isReference, reanchor(position, at)}: when the player is the room's
   *                   reference, and how to move the room to it (the host's page)
   */
  constructor(player, clock, { thresholds = DEFAULT_THRESHOLDS, onTick = null, reference = null } = {}) {
    this.player = player;
    this.clock = clock;
    this.th = thresholds;
    this.onTick = onTick;
    this.reference = reference;
    this.state = initialState(thresholds);
    this.speedLatency = new SpeedLatency(thresholds.initial_speed_latency, { limit: thresholds.max_speed_latency });
    this.room = null;
    this.roomChanged = false;
    this.holdUntil = -Infinity;
    // When the video told to play last starts moving (local time).
    this.startsAt = -Infinity;
    this.last = null;
    this.timer = null;
    this.running = false;
    this.counts = { speed: 0, seek: 0, steady_seek: 0, speedCommands: 0, reanchors: 0 };
  }

  /**
   * A new room state; true when it is a host action (a change of the playback). A state whose
   * previous one reaches its position at its reference time is a scheduled speed change
   * (continuing). The page keeps the states in the order they were written.
   */
  updateRoom(state) {
    const previous = this.room;
    if (previous !== null && samePlayback(previous, state)) {
      this.room = { ...state, leadInSpeed: previous.leadInSpeed };
      return false;
    }
    this.room = previous === null ? state : continuing(state, previous);
    this.roomChanged = true;
    this.holdUntil = -Infinity;
    this.wake();
    return true;
  }

  /** After the page was hidden or offline: align at once, as after a host action. */
  realign() {
    this.roomChanged = this.room !== null;
    this.wake();
  }

  /** The user acted in the player: hands off for a moment (user_hold). */
  hold() {
    this.holdUntil = this.clock.now() + this.th.user_hold;
  }

  get drift() {
    return this.last === null ? null : this.last.drift;
  }

  get phase() {
    return this.state.phase;
  }

  get isSynced() {
    const d = this.drift;
    return d !== null && Math.abs(d) <= this.th.sync_tolerance;
  }

  tick() {
    const room = this.room;
    if (room === null || !this.clock.hasSamples || !this.player.ready) return null;
    const now = this.clock.now();
    // A paused video starts moving a moment after play() (startLatency, learned by the
    // player): its decisions are taken for that moment, so a start lands on time, and so are
    // those of a video told to play until that moment has come (a tick in between would see a
    // room not started yet, and pause it again). The only difference from the Python engine;
    // the policy is the same.
    const paused = !this.player.isPlaying && !this.player.isSeeking;
    const startLatency = paused ? this.player.startLatency || 0 : 0;
    const effective = paused ? now + startLatency : Math.max(now, this.startsAt);
    const serverNow = this.clock.toServer(effective);
    const started = hasStarted(room, serverNow);
    const latency = this.speedLatency.value;
    const [command, switchIn] = commandSpeed(room, serverNow, latency);
    const position = this.player.position();
    const playing = this.player.isPlaying;
    const seeking = this.player.isSeeking;
    const buffering = this.player.isBuffering;
    this.speedLatency.observe(now, position, this.player.speed, playing && !(seeking || buffering));
    const obs = observation({
      now,
      target: targetPosition(room, serverNow),
      position,
      room_playing: started,
      room_scheduled: room.isPlaying && !started,
      starts_in: Math.max(0.0, room.updatedAt - serverNow),
      room_speed: speedAt(room, serverNow) || room.speed,
      command_speed: command,
      command_switch_in: switchIn,
      speed_latency: latency,
      reference: this.reference !== null && this.reference.isReference,
      player_playing: playing,
      player_speed: this.player.speed,
      seeking,
      buffering,
      room_changed: this.roomChanged,
      hold: now < this.holdUntil,
      clock_offset: this.clock.offset,
    });
    this.roomChanged = false;
    let decision;
    [this.state, decision] = decide(this.state, obs, this.th);
    this.last = decision;
    if (decision.correction) this.counts[decision.correction] += 1;
    if (decision.set_speed !== null) this.counts.speedCommands += 1;
    if (decision.reanchor && this.reference !== null) {
      // The host's video is off the room after the host's own action: move the room to it.
      this.counts.reanchors += 1;
      this.reference.reanchor(position, serverNow);
    }
    // Pause before seeking, seek before playing.
    if (decision.set_playing === false) this.player.pause();
    if (decision.seek_to !== null) this.player.seek(decision.seek_to);
    if (decision.set_speed !== null) {
      this.player.setSpeed(decision.set_speed);
      this.speedLatency.changed(now, decision.set_speed);
    }
    if (decision.set_playing === true) {
      this.startsAt = paused ? now + startLatency : -Infinity;
      this.player.play();
    }
    if (this.onTick) this.onTick(decision, obs, MEASURED.has(decision.phase));
    return decision;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loop();
  }

  stop() {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  wake() {
    if (!this.running) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.loop(), 0);
  }

  loop() {
    this.timer = null;
    if (!this.running) return;
    try {
      this.tick();
    } catch (exc) {
      console.warn('sync tick failed', exc);
    }
    let wait = this.th.tick_interval;
    if (this.last !== null && this.last.wake_in !== null) wait = Math.min(wait, this.last.wake_in);
    this.timer = setTimeout(() => this.loop(), Math.max(0, wait * 1000));
  }
}

/**
 * The room speed to tell the player now, and seconds until that changes (_command_speed):
 * ahead of a scheduled speed change the new speed is told `latency` early, so it is heard on
 * time.
 */
function commandSpeed(room, serverNow, latency) {
  if (room.isPlaying && (room.leadInSpeed ?? null) !== null && serverNow < room.updatedAt) {
    const switchAt = room.updatedAt - latency;
    if (serverNow < switchAt) return [room.leadInSpeed, switchAt - serverNow];
  }
  return [room.speed, null];
}
