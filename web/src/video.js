// The <video> element as the sync engine's player, with the browser's rules handled as a
// viewer expects: autoplay refused with sound (play muted, offer to unmute; if even that is
// refused, ask for one click), a stall shown as buffering, a video the browser cannot play
// reported once with what to do.

export class VideoPlayer {
  constructor(video, { onAutoplayBlocked = () => {}, onError = () => {}, onBuffering = () => {} } = {}) {
    this.video = video;
    this.onAutoplayBlocked = onAutoplayBlocked;
    this.onError = onError;
    this.onBuffering = onBuffering;
    this.wantPlaying = false;
    this.blocked = false;
    this.buffering = false;
    this.learnedStart = 0;
    this.starts = 0;
    this.startProbe = null;
    video.preload = 'auto';
    video.playsInline = true;
    video.preservesPitch = true;
    const bufferingNow = () => this.updateBuffering();
    for (const name of ['waiting', 'stalled', 'playing', 'canplay', 'canplaythrough', 'seeked', 'pause']) {
      video.addEventListener(name, bufferingNow);
    }
    video.addEventListener('error', () => this.onError(video.error));
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
   * Seconds from play() to the picture moving, learned from the starts seen (a decoder and an
   * audio output take a moment: ~0.1 s in headless Chromium). The engine issues a start that
   * much early.
   */
  get startLatency() {
    return this.learnedStart;
  }

  position() {
    const t = this.video.currentTime;
    const probe = this.startProbe;
    if (probe && !this.video.paused && !this.video.seeking) {
      const now = performance.now() / 1000;
      if (now - probe.at >= 0.25 && t > probe.from) {
        const latency = now - (t - probe.from) / probe.rate - probe.at;
        const clamped = Math.min(0.5, Math.max(0, latency));
        this.learnedStart = this.starts ? this.learnedStart + 0.5 * (clamped - this.learnedStart) : clamped;
        this.starts += 1;
        this.startProbe = null;
      }
    }
    return t;
  }

  play() {
    this.wantPlaying = true;
    if (this.video.paused && !this.video.seeking) {
      this.startProbe = { at: performance.now() / 1000, from: this.video.currentTime, rate: this.video.playbackRate };
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
    this.video.pause();
  }

  seek(seconds) {
    this.startProbe = null;
    const duration = this.video.duration;
    this.video.currentTime = Number.isFinite(duration) ? Math.min(seconds, Math.max(0, duration - 0.05)) : seconds;
  }

  setSpeed(rate) {
    // A start still being measured keeps its probe: a nudge of at most 5% over the
    // measurement moves the estimate by a few ms at most.
    this.video.playbackRate = rate;
  }
}
