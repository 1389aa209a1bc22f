// The room row's playback model (watchium_client's PlaybackState): where the room is at any
// server time, with no message from the host.
import { parseServerTime } from './clock.js';

export function playbackFromRow(row) {
  const state = {
    roomId: String(row.room_id),
    position: Number(row.current_playback_time),
    isPlaying: row.is_playing === true,
    updatedAt: parseServerTime(row.playback_updated_at),
    speed: row.playback_speed == null ? 1.0 : Number(row.playback_speed),
    hostUserId: String(row.host_user_id || ''),
    episode: row.episode_number ?? 1,
  };
  if (!Number.isFinite(state.position) || state.position < 0) throw new Error('bad room position');
  if (!Number.isFinite(state.speed) || state.speed <= 0) throw new Error('bad room speed');
  return state;
}

/** Where playback is at serverNow; a start time in the future holds the position. */
export function targetPosition(state, serverNow) {
  if (!state.isPlaying) return state.position;
  const elapsed = Math.max(0.0, serverNow - state.updatedAt);
  return Math.max(0.0, state.position + elapsed * state.speed);
}

export const hasStarted = (state, serverNow) => state.isPlaying && serverNow >= state.updatedAt;

export function samePlayback(a, b) {
  return (
    a.position === b.position &&
    a.updatedAt === b.updatedAt &&
    a.isPlaying === b.isPlaying &&
    a.speed === b.speed &&
    a.episode === b.episode
  );
}
