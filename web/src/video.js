// The <video> element as the sync engine's player, with the browser's rules handled as a
// viewer expects: autoplay refused with sound (play muted, offer to unmute; if even that is
// refused, ask for one click), a stall shown as buffering, a video the browser cannot play
// reported once with what to do.

// The learned start latency's bounds: a resumed video may start a little early (its jump
// ahead a few ms more than the time it took), a slow decoder takes up to half a second.
const MIN_START_LATENCY = -0.1;
const MAX_START_LATENCY = 0.5;

export class VideoPlayer {
  constructor(video, { onAutoplayBlocked = () => {}, onError = () => {}, onBuffering = () => {} } = {}) {
    this.video = video;
    this.onAutoplayBlocked = onAutoplayBlocked;
    this.onError = onError;
    this.onBuffering = onBuffering;
    this.wantPlaying = false;
    this.blocked = false;
    this.buffering = false;
    // Two kinds of start, learned apart (startLatency below).
    this.learnedStart = { sought: { value: 0, starts: 0 }, resumed: { value: 0, starts: 0 } };
    // Whether playback restarts from currentTime: after a load or a seek (true), or goes on
    // where a pause() left it (false).
    this.sought = true;
    this.startProbe = null;
    video.preload = 'auto';
    video.playsInline = true;
    video.preservesPitch = true;
    const bufferingNow = () => this.updateBuffering();
    for (const name of ['waiting', 'stalled', 'playing', 'canplay', 'canplaythrough', 'seeked', 'pause']) {
      video.addEventListener(name, bufferingNow);
    }
    video.addEventListener('error', () => this.onError(video.error));
    // A new source starts like a seek; so does any seek, whoever made it.
    for (const name of ['emptied', 'seeking']) {
      video.addEventListener(name, () => {
        this.sought = true;
      });
    }
  }

  /** Whether the element can report a position and take commands. */
  get ready() {
    return this.video.readyState >= 1; // HAVE_METADATA
  }

  get isPlaying() {
    // A play() the browser has not started yet (refused autoplay) is not playing.
    return !this.video.paused && !this.blocked;
  }

  get speed() {
    return this.video.playbackRate;
  }

  get isSeeking() {
    return this.video.seeking;
  }

  get isBuffering() {
    return this.buffering;
  }

  updateBuffering() {
    const v = this.video;
    // Stalled for data: playing, not seeking, and not enough data to go on.
    const now = !v.paused && !v.seeking && v.readyState < 3 && !v.ended;
    if (now !== this.buffering) {
      this.buffering = now;
      this.onBuffering(now);
    }
  }

  /**
   * Seconds from play() to the picture moving, learned from the starts seen; the engine issues
   * a start that much early. Two kinds, measured in headless Chromium:
   *
   * - after a seek (or a load) the decoder and the audio output start up first: the video
   *   moves ~85 ms after play();
   * - after a plain pause() it goes on at once, from where its audio had got to: currentTime
   *   jumps ~80 ms ahead (the audio prepared ahead when it was paused) and moves on as if it
   *   had never waited, ~0 ms.
   *
   * One estimate for both started every resumed video ~85 ms early, so ~85 ms ahead of the
   * room (and the host's video, the room's reference, moved the room there).
   */
  get startLatency() {
    return this.learnedStart[this.sought ? 'sought' : 'resumed'].value;
  }

  position() {
    const t = this.video.currentTime;
    const probe = this.startProbe;
    if (probe && !this.video.paused && !this.video.seeking) {
      const now = performance.now() / 1000;
      if (now - probe.at >= 0.25 && t > probe.from) {
        const latency = now - (t - probe.from) / probe.rate - probe.at;
        const learned = this.learnedStart[probe.kind];
        const clamped = Math.min(MAX_START_LATENCY, Math.max(MIN_START_LATENCY, latency));
        learned.value = learned.starts ? learned.value + 0.5 * (clamped - learned.value) : clamped;
        learned.starts += 1;
        this.startProbe = null;
      }
    }
    return t;
  }

  play() {
    this.wantPlaying = true;
    if (this.video.paused && !this.video.seeking) {
      const kind = this.sought ? 'sought' : 'resumed';
      this.startProbe = { at: performance.now() / 1000, from: this.video.currentTime, rate: this.video.playbackRate, kind };
    }
    const attempt = this.video.play();
    if (!attempt || typeof attempt.then !== 'function') return;
    attempt.then(
      () => {
        this.blocked = false;
      },
      (err) => {
        if (!err || err.name !== 'NotAllowedError' || !this.wantPlaying) return;
        // Autoplay with sound refused: muted playback is allowed; the page offers to unmute.
        if (!this.video.muted) {
          this.video.muted = true;
          this.onAutoplayBlocked('muted');
          this.play();
        } else {
          this.blocked = true;
          this.onAutoplayBlocked('blocked');
        }
      },
    );
  }

  /** After a click (a user gesture): start what autoplay refused, with sound if asked. */
  resumeByUser({ unmute = false } = {}) {
    if (unmute) this.video.muted = false;
    this.blocked = false;
    if (this.wantPlaying) this.play();
  }

  pause() {
    this.wantPlaying = false;
    this.blocked = false;
    // Stopped while moving: a play() goes on from where its audio had got to (a seek, even
    // one already under way, makes it restart from currentTime instead).
    if (!this.video.paused && !this.video.seeking) this.sought = false;
    this.video.pause();
  }

  seek(seconds) {
    this.startProbe = null;
    this.sought = true;
    const duration = this.video.duration;
    this.video.currentTime = Number.isFinite(duration) ? Math.min(seconds, Math.max(0, duration - 0.05)) : seconds;
  }

  setSpeed(rate) {
    // A start still being measured keeps its probe: a nudge of at most 5% over the
    // measurement moves the estimate by a few ms at most.
    this.video.playbackRate = rate;
  }
}
