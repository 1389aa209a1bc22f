// Replays the decisions exported from the Python engine (sync_cases.json, made by
// tests/client/sync_cases.py) through the browser's policy: every step, the same decision and
// the same state, or the two engines have drifted apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decide, initialState } from '../src/sync/policy.js';
import { DEFAULT_THRESHOLDS, thresholds } from '../src/sync/thresholds.js';

const data = JSON.parse(readFileSync(new URL('./sync_cases.json', import.meta.url), 'utf8'));

const number = (v) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);
const record = (names, values) => Object.fromEntries(names.map((n, i) => [n, number(values[i])]));

function stateFrom(values) {
  const s = record(data.fields.state, values);
  if (s.pending_seek !== null) s.pending_seek = record(data.pending_seek_fields, s.pending_seek);
  if (s.cycle !== null) s.cycle = record(data.cycle_fields, s.cycle);
  return s;
}

function same(actual, expected, where) {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (expected === actual) return;
    const scale = Math.max(1, Math.abs(expected));
    assert.ok(Math.abs(actual - expected) <= 1e-9 * scale, `${where}: ${actual} != ${expected}`);
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${where}: ${actual} is not an object`);
    for (const key of Object.keys(expected)) same(actual[key], expected[key], `${where}.${key}`);
    return;
  }
  assert.equal(actual, expected, where);
}

test('the default thresholds are the Python engine defaults', () => {
  assert.deepEqual({ ...DEFAULT_THRESHOLDS }, data.default_thresholds);
});

test('the case file covers every phase and correction', () => {
  const phases = new Set();
  const corrections = new Set();
  for (const c of data.cases) {
    for (const [, d] of c.steps) {
      const decision = record(data.fields.decision, d);
      phases.add(decision.phase);
      corrections.add(decision.correction);
    }
  }
  for (const p of ['paused', 'starting', 'in_sync', 'correcting', 'seeking', 'buffering', 'hold']) {
    assert.ok(phases.has(p), `no step in phase ${p}`);
  }
  for (const c of ['speed', 'seek', 'steady_seek']) assert.ok(corrections.has(c), `no ${c} correction`);
});

test('the case file covers every transition rule', () => {
  const seen = new Set();
  for (const c of data.cases) {
    const th = c.thresholds;
    c.steps.forEach(([o, d, s]) => {
      const obs = record(data.fields.obs, o);
      const decision = record(data.fields.decision, d);
      const state = stateFrom(s);
      const drift = Math.abs(decision.drift);
      if (obs.command_switch_in !== null) seen.add('a speed change told ahead of its instant');
      if (obs.now < state.settle_until && obs.room_playing) seen.add('a speed change taking effect');
      if (decision.reanchor) seen.add('a re-anchor');
      if (obs.reference && obs.now < state.own_change_at + th.transient_window && drift > th.outer && decision.seek_to === null) {
        seen.add('the reference left alone after its own action');
      }
      if (decision.phase === 'paused' && drift > th.paused_tolerance && decision.seek_to === null) {
        seen.add('a paused landing kept');
      }
      if (decision.correction === 'speed' && drift <= th.outer) seen.add('a nudge in the transient band');
      if (decision.phase === 'seeking' && decision.wake_in === th.seek_poll) seen.add('a seek polled');
    });
  }
  for (const rule of [
    'a speed change told ahead of its instant',
    'a speed change taking effect',
    'a re-anchor',
    'the reference left alone after its own action',
    'a paused landing kept',
    'a nudge in the transient band',
    'a seek polled',
  ]) {
    assert.ok(seen.has(rule), `no step shows ${rule}`);
  }
});

for (const c of data.cases) {
  test(`the browser engine decides as the Python engine: ${c.name}`, () => {
    const th = thresholds(c.thresholds);
    let state = initialState(th);
    same(state, stateFrom(c.initial_state), `${c.name} initial state`);
    c.steps.forEach(([o, d, s], i) => {
      const obs = record(data.fields.obs, o);
      let decision;
      [state, decision] = decide(state, obs, th);
      same(decision, record(data.fields.decision, d), `${c.name} step ${i} decision`);
      same(state, stateFrom(s), `${c.name} step ${i} state`);
    });
  });
}
