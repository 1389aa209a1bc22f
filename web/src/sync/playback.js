// The room row's playback model (watchium_client/sync/_playback.py, PlaybackState): where the
// room is at any server time, with no message from the host.
//
// A reference time in the future while playing is a scheduled start (the room holds at the
// position until then) or a scheduled speed change (the room keeps moving at its previous
// speed, reaches the position then, and moves at the new speed from then on). The row alone
// cannot tell them apart; the state it follows can: continuing().
import { parseServerTime } from './clock.js';

// A state continues the one before it when that one reaches its position at its reference
// time to within this (_CONTINUES).
const CONTINUES = 0.1;

export function playbackFromRow(row) {
  const state = {
    roomId: String(row.room_id),
    position: Number(row.current_playback_time),
    isPlaying: row.is_playing === true,
    updatedAt: parseServerTime(row.playback_updated_at),
    speed: row.playback_speed == null ? 1.0 : Number(row.playback_speed),
    hostUserId: String(row.host_user_id || ''),
    episode: row.episode_number ?? 1,
    // While playing, before updatedAt: null holds at position (a scheduled start); a speed
    // keeps the room moving at it (a scheduled speed change). Not part of the row.
    leadInSpeed: null,
  };
  if (!Number.isFinite(state.position) || state.position < 0) throw new Error('bad room position');
  if (!Number.isFinite(state.speed) || state.speed <= 0) throw new Error('bad room speed');
  return state;
}

/** Where playback is at serverNow (target_position); never below 0. */
export function targetPosition(state, serverNow) {
  if (!state.isPlaying) return state.position;
  const elapsed = serverNow - state.updatedAt;
  if (elapsed < 0) {
    if (state.leadInSpeed === null || state.leadInSpeed === undefined) return state.position;
    return Math.max(0.0, state.position + elapsed * state.leadInSpeed);
  }
  return Math.max(0.0, state.position + elapsed * state.speed);
}

/** Whether playback runs at serverNow (has_started; during a speed change's lead-in it does). */
export function hasStarted(state, serverNow) {
  if (!state.isPlaying) return false;
  return serverNow >= state.updatedAt || (state.leadInSpeed ?? null) !== null;
}

/** The speed the room moves at serverNow (speed_at; 0 while paused or before a start). */
export function speedAt(state, serverNow) {
  if (!hasStarted(state, serverNow)) return 0.0;
  if (serverNow < state.updatedAt && (state.leadInSpeed ?? null) !== null) return state.leadInSpeed;
  return state.speed;
}

/**
 * This state taken right after previous (continuing): a scheduled speed change when both play
 * and previous reaches this position at this reference time (within 100 ms), else unchanged.
 */
export function continuing(state, previous) {
  if (
    !(
      state.isPlaying &&
      previous.isPlaying &&
      previous.roomId === state.roomId &&
      previous.episode === state.episode &&
      (state.leadInSpeed ?? null) === null
    )
  ) {
    return state;
  }
  const speed = speedAt(previous, state.updatedAt - 1e-6);
  if (speed <= 0 || Math.abs(targetPosition(previous, state.updatedAt) - state.position) > CONTINUES) return state;
  return { ...state, leadInSpeed: speed };
}

/** Whether b describes the same playback as a (same_playback; the lead-in is not compared). */
export function samePlayback(a, b) {
  return (
    a.position === b.position &&
    a.updatedAt === b.updatedAt &&
    a.isPlaying === b.isPlaying &&
    a.speed === b.speed &&
    a.episode === b.episode
  );
}
