// The browser's side of the transition rules, outside the policy (which sync_cases.json pins):
// a scheduled speed change read from the rows, the speed latency learned from a player's
// positions, and the speed change the host's controls send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continuing, hasStarted, speedAt, targetPosition } from '../src/sync/playback.js';
import { SpeedLatency } from '../src/sync/speed_latency.js';
import { planSpeed, storableReference } from '../src/controls.js';

const room = (fields) => ({ roomId: 'r', position: 10, isPlaying: true, updatedAt: 100, speed: 1, hostUserId: '', episode: 1, leadInSpeed: null, ...fields });
const near = (a, b, where) => assert.ok(Math.abs(a - b) < 1e-9, `${where}: ${a} != ${b}`);

test('a state the previous one reaches at its reference time is a scheduled speed change', () => {
  const before = room({});
  // At 105 the room is at 15 at 1x; from then on it moves at 1.5x.
  const change = continuing(room({ position: 15, updatedAt: 105, speed: 1.5 }), before);
  assert.equal(change.leadInSpeed, 1);
  assert.ok(hasStarted(change, 103));
  near(targetPosition(change, 103), 13, 'lead-in');
  near(targetPosition(change, 107), 18, 'after the change');
  assert.equal(speedAt(change, 104.9), 1);
  assert.equal(speedAt(change, 105), 1.5);
  // A future time the previous state does not reach there is a scheduled start: it holds.
  const start = continuing(room({ position: 40, updatedAt: 105 }), before);
  assert.equal(start.leadInSpeed, null);
  assert.ok(!hasStarted(start, 103));
  near(targetPosition(start, 103), 40, 'held');
  // Nor after a pause.
  assert.equal(continuing(room({ position: 15, updatedAt: 105 }), room({ isPlaying: false })).leadInSpeed, null);
});

test('the speed latency is where the positions before and after a change meet', () => {
  const latency = new SpeedLatency(0.3, { limit: 1.5 });
  const truth = 0.12;
  const told = 10.0;
  const position = (t) => (t < told + truth ? t : told + truth + (t - told - truth) * 1.5);
  for (let t = 9.0; t < told; t += 0.1) latency.observe(t, position(t), 1.0, true);
  latency.changed(told, 1.5);
  for (let t = told + 0.05; t < told + 1.2; t += 0.1) latency.observe(t, position(t), 1.5, true);
  assert.equal(latency.samples, 1);
  near(latency.value, truth, 'learned');
  // A nudge (under 10%) is no measurement.
  latency.changed(12.0, 1.52);
  assert.equal(latency.switch, null);
});

test('the host schedules a speed change where the room will be at the agreed instant', () => {
  const now = 100.0;
  const change = planSpeed(room({ position: 10, updatedAt: 98 }), now, 1.5, 0.55);
  // At 100.55 the room is at 12.55 (moving at 1x until then).
  assert.equal(change.current_time, 12.55);
  near(change.at, 100.55, 'instant');
  assert.equal(change.playback_speed, 1.5);
  // Rounding the position moves the instant along the old tempo, never the position.
  const [stored, at] = storableReference(12.3456, 50, 1);
  assert.equal(stored, 12.35);
  near(at, 50.0044, 'moved instant');
  // A paused room changes speed now.
  const paused = planSpeed(room({ isPlaying: false }), now, 2, 0.55);
  assert.deepEqual(paused, { action: 'speed', current_time: 10, playback_speed: 2, at: now });
});
