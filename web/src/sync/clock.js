// The server clock, estimated NTP-style from request round trips, as watchium_client's
// ClockSync: offset = ts - (t0 + t1) / 2 from each round trip, trusting the sample with the
// smallest delay among the last few (queueing only lengthens round trips).

/** This page's time in epoch seconds, monotonic (performance.now from the page's origin time). */
export const localNow = () => (performance.timeOrigin + performance.now()) / 1000;

/**
 * Epoch seconds from a server timestamp: a number, or ISO 8601 with a zone as PostgreSQL sends
 * it ("2026-05-01 12:00:00.123456+00"). Microseconds are kept (Date.parse drops them).
 */
export function parseServerTime(value) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`server time is not a finite number: ${value}`);
    return value;
  }
  if (typeof value !== 'string') throw new Error(`unsupported server time: ${value}`);
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)$/.exec(value.trim());
  if (!m) throw new Error(`server time is not ISO 8601 with a zone: ${value}`);
  let zone = m[4];
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const whole = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(whole)) throw new Error(`server time is not ISO 8601 with a zone: ${value}`);
  const fraction = m[3] ? Number(`0.${m[3]}`) : 0;
  return whole / 1000 + fraction;
}

export class ClockSync {
  constructor({ window = 8, now = localNow } = {}) {
    if (window < 1) throw new Error('window must be at least 1');
    this.window = window;
    this.now = now;
    this.samples = [];
    this.best = null;
  }

  get offset() {
    return this.best === null ? 0.0 : this.best.offset;
  }

  get errorBound() {
    return this.best === null ? Infinity : this.best.delay / 2;
  }

  get hasSamples() {
    return this.best !== null;
  }

  serverNow() {
    return this.now() + this.offset;
  }

  toServer(local) {
    return local + this.offset;
  }

  addSample(sentAt, serverTime, receivedAt) {
    if (receivedAt < sentAt) throw new Error('received before sent');
    const ts = parseServerTime(serverTime);
    const sample = { offset: ts - (sentAt + receivedAt) / 2, delay: receivedAt - sentAt, receivedAt };
    this.samples.push(sample);
    if (this.samples.length > this.window) this.samples.shift();
    // On equal delays the newest sample wins.
    let best = null;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      if (best === null || this.samples[i].delay < best.delay) best = this.samples[i];
    }
    this.best = best;
    return sample;
  }

  /** Runs one request resolving to a server time and adds it as a sample. */
  async measure(request) {
    const sentAt = this.now();
    const serverTime = await request();
    return this.addSample(sentAt, serverTime, this.now());
  }
}
