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

  position() {
    return this.video.currentTime;
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

  play() {
    this.wantPlaying = true;
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
    const duration = this.video.duration;
    this.video.currentTime = Number.isFinite(duration) ? Math.min(seconds, Math.max(0, duration - 0.05)) : seconds;
  }

  setSpeed(rate) {
    this.video.playbackRate = rate;
  }
}
