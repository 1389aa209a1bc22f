import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockSync, parseServerTime } from '../src/sync/clock.js';
import { playbackFromRow, targetPosition } from '../src/sync/playback.js';

test('server times keep their microseconds and zones', () => {
  assert.equal(parseServerTime('2026-05-01T12:00:00.123456+00:00'), 1777636800.123456);
  assert.equal(parseServerTime('2026-05-01 14:00:00.5+02'), 1777636800.5);
  assert.equal(parseServerTime('2026-05-01T12:00:00Z'), 1777636800);
  assert.throws(() => parseServerTime('2026-05-01T12:00:00'), /zone/);
});

test('the clock trusts the round trip with the smallest delay', () => {
  const clock = new ClockSync({ window: 3 });
  clock.addSample(100.0, 110.2, 100.4); // delay 0.4, offset 10.0
  clock.addSample(101.0, 111.06, 101.1); // delay 0.1, offset 10.01
  clock.addSample(102.0, 112.5, 102.6); // delay 0.6
  assert.ok(Math.abs(clock.offset - 10.01) < 1e-9);
  assert.ok(Math.abs(clock.errorBound - 0.05) < 1e-9);
  clock.addSample(103.0, 113.3, 103.5);
  clock.addSample(104.0, 114.3, 104.5); // the 0.1 s sample has left the window
  assert.ok(Math.abs(clock.offset - 10.05) < 1e-9);
});

test('the room position follows the row, holding before a scheduled start', () => {
  const row = {
    room_id: 'r',
    current_playback_time: 10,
    is_playing: true,
    playback_speed: 1.5,
    playback_updated_at: '2026-05-01T12:00:00+00:00',
  };
  const state = playbackFromRow(row);
  assert.equal(targetPosition(state, state.updatedAt + 2), 13);
  assert.equal(targetPosition(state, state.updatedAt - 1), 10);
  assert.equal(targetPosition({ ...state, isPlaying: false }, state.updatedAt + 5), 10);
});
