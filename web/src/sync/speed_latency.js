// How long a speed change takes to be heard, learned from the player's own positions
// (watchium_client/sync/_speed_latency.py, SpeedLatency). Around each large change of the
// player's speed (a room's speed change, not a nudge), a line through the positions at the old
// speed before the command, extended, and the positions well after it at the new speed meet
// where the change took effect. The first measurement replaces the prior; later ones move the
// estimate by `gain`. Anything that moves the player meanwhile drops the measurement.

const BEFORE = 1.0; // fit the line before a change over this much playback
const AFTER = 0.3; // and average the crossing over this much playback after it
const MIN_BEFORE = 0.25;
const MARGIN = 0.2; // wait this much longer than the estimate before a position is "after"
const MIN_CHANGE = 0.1; // smaller changes (relative) are nudges
const TRIM_CHANGE = 0.005; // smaller changes during a measurement are the trim on top of it

export class SpeedLatency {
  constructor(initial, { limit, gain = 0.5 }) {
    this.value = initial;
    this.samples = 0;
    this.limit = limit;
    this.gain = gain;
    this.recent = [];
    this.speed = null;
    this.switch = null;
  }

  /** One position of the player (each tick): speed as last told, moving: playing, not
   *  seeking or stalled (observe). */
  observe(now, position, speed, moving) {
    if (!moving || (this.speed !== null && Math.abs(speed - this.speed) > 1e-9)) {
      // A halt, or a change nobody announced: what was collected no longer fits a line.
      this.switch = null;
      this.recent = [];
      this.speed = speed;
      if (!moving) return;
    }
    this.speed = speed;
    const sw = this.switch;
    if (sw === null) {
      this.recent.push([now, position]);
      while (this.recent.length && now - this.recent[0][0] > BEFORE) this.recent.shift();
      return;
    }
    const wait = Math.min(this.limit, this.value + MARGIN);
    if (now - sw.at < wait) return;
    sw.after.push([now, position]);
    if (now - sw.at >= wait + AFTER) {
      this.finish(sw);
      this.switch = null;
      this.recent = [[now, position]];
    }
  }

  /** The player was told a new speed at now (changed). */
  changed(now, speed) {
    const old = this.speed;
    const sw = this.switch;
    if (sw !== null && Math.abs(speed / sw.new - 1) < TRIM_CHANGE) {
      sw.new = speed;
      this.speed = speed;
      return;
    }
    const recent = this.recent;
    const large = old !== null && old > 0 && Math.abs(speed / old - 1) >= MIN_CHANGE;
    if (large && recent.length >= 3 && recent[recent.length - 1][0] - recent[0][0] >= MIN_BEFORE) {
      this.switch = { at: now, old, new: speed, before: [...recent], after: [] };
    } else {
      this.switch = null;
    }
    this.recent = [];
    this.speed = speed;
  }

  finish(sw) {
    const fitted = line(sw.before);
    if (fitted === null || !sw.after.length) return;
    const [slope, intercept] = fitted;
    // The player's clock error shows in the slope at the old speed; it carries over.
    const rate = (sw.new * slope) / sw.old;
    if (Math.abs(slope - rate) < 1e-6) return;
    const crossings = sw.after.map(([t, p]) => (p - intercept - rate * t) / (slope - rate));
    let latency = crossings.reduce((a, b) => a + b, 0) / crossings.length - sw.at;
    if (!(latency >= -0.05 && latency <= this.limit)) return; // something else moved the player
    latency = Math.max(0.0, latency);
    if (this.samples) latency = this.value + this.gain * (latency - this.value);
    this.value = Math.min(this.limit, latency);
    this.samples += 1;
  }
}

/** Least-squares slope and intercept of points (null when they do not span time). */
function line(points) {
  const n = points.length;
  const meanT = points.reduce((a, [t]) => a + t, 0) / n;
  const meanP = points.reduce((a, [, p]) => a + p, 0) / n;
  const spread = points.reduce((a, [t]) => a + (t - meanT) ** 2, 0);
  if (spread <= 0) return null;
  const slope = points.reduce((a, [t, p]) => a + (t - meanT) * (p - meanP), 0) / spread;
  return [slope, meanP - slope * meanT];
}
