// The ready check (docs/NIGHTS.md): the host or a co-host asks the room who is ready, usually
// moving it to the next episode at the same time, paused at 0. Every member sees a banner with
// the countdown to the deadline, how many are ready and a "Ready" button; the page may answer
// by itself once its video has loaded the episode (the viewer's choice, kept in this browser).
// The room starts by itself when everyone is ready. Nothing in the database runs by itself: an
// answer held back (`held`) is published by a settle after that delay, and once the deadline
// has passed each page settles once (the first starts the room, the others change nothing).
import { call, explain } from './api.js';
import { h, fill, clockText, field } from './dom.js';
import { parseServerTime } from './sync/clock.js';

const AUTO_KEY = 'watchium.autoReady';
const SETTLE_RETRY = 1.0; // s: a settle that found the check still open (clocks a bit apart)
const MAX_SETTLES = 8;
const OVER = {
  passed: 'Everyone is ready: the room starts.',
  timed_out: 'Time is up: the room starts with whoever is ready.',
  cancelled: 'The ready check was cancelled.',
};

export class ReadyCheck {
  /**
   * @param clock       the page's ClockSync (the deadline is server time)
   * @param videoReady  (check) => whether this page's video has loaded what the check is for
   * @param episode     () => words for the episode the room plays ("Frieren, episode 4")
   * @param onRoom      (row) => the room as an answer has it
   */
  constructor(app, { roomId, clock, videoReady, episode, onRoom = () => {}, onError = () => {}, onDone = () => {} }) {
    this.app = app;
    this.roomId = roomId;
    this.clock = clock;
    this.videoReady = videoReady;
    this.episode = episode;
    this.onRoom = onRoom;
    this.onError = onError;
    this.onDone = onDone;
    this.check = null;
    this.answered = null; // true / false once this viewer answered this check
    this.autoAnswered = false;
    this.settles = 0;
    this.nextSettle = -Infinity;
    this.settling = false;
    this.timer = null;
    this.heldTimer = null;

    this.timeout = h('input', { type: 'number', min: 5, max: 300, step: 1, value: '30' });
    this.startControls = h(
      'div.ready-start',
      { role: 'group', 'aria-label': 'Start a ready check' },
      field('Start anyway after (s)', this.timeout, 'The room starts with whoever is ready then.'),
      h('div.row', {}, h('button', { type: 'button', onclick: () => this.start('next') }, 'Ready check → next episode'), h('button', { type: 'button', onclick: () => this.start('none') }, 'Ready check (this episode)')),
    );

    this.what = h('p.ready-what');
    this.countdown = h('span.ready-countdown', { 'aria-live': 'off' });
    this.count = h('p.ready-count', { role: 'status', 'aria-live': 'polite' });
    this.button = h('button.primary.big', { type: 'button', onclick: () => this.respond(this.answered !== true) }, 'Ready');
    this.auto = h('input', { type: 'checkbox', checked: localStorage.getItem(AUTO_KEY) === '1' });
    this.auto.addEventListener('change', () => {
      localStorage.setItem(AUTO_KEY, this.auto.checked ? '1' : '0');
      this.tick();
    });
    this.autoNote = h('p.muted.ready-auto');
    this.cancel = h('button', { type: 'button', hidden: true, onclick: () => this.settle({ cancel: true }) }, 'Cancel the check');
    this.element = h(
      'section.ready-check',
      { 'aria-labelledby': 'ready-title', hidden: true },
      h('h2', { id: 'ready-title' }, 'Ready check'),
      this.what,
      this.count,
      h('div.row', {}, this.button, this.cancel),
      h('label.check', {}, this.auto, 'Answer ready for me once my video has loaded the episode'),
      this.autoNote,
    );
  }

  setControl(canControl) {
    this.cancel.hidden = !canControl;
  }

  get isOpen() {
    return this.check !== null && this.check.status === 'open';
  }

  /** The room's ready_checks row (Realtime, queue-get or an answer), unless an older one. */
  take(row) {
    if (!row || !row.check_id) return;
    const previous = this.check;
    const same = previous && previous.check_id === row.check_id;
    if (same && parseServerTime(row.published_at) < parseServerTime(previous.published_at)) return;
    if (!same) {
      this.answered = null;
      this.autoAnswered = false;
      this.settles = 0;
      this.nextSettle = -Infinity;
    }
    this.check = { ...row };
    if (row.status === 'open') {
      if (row.ready_user_ids && row.ready_user_ids.includes(this.app.userId)) this.answered = true;
      this.element.hidden = false;
      if (this.timer === null) this.timer = setInterval(() => this.tick(), 250);
      this.tick();
    } else {
      this.close();
      if (same && previous.status === 'open') this.onDone(OVER[row.status] || 'The ready check is over.');
    }
  }

  close() {
    this.element.hidden = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldTimer = null;
  }

  /** A few times a second while open: the countdown, answering by itself, the deadline. */
  tick() {
    const check = this.check;
    if (!check || check.status !== 'open') return;
    const now = this.clock.serverNow();
    const left = parseServerTime(check.deadline) - now;
    fill(this.what, `Ready for ${this.episode()}? The room starts when everyone is ready, or in `, this.countdown, ' with whoever is.');
    fill(this.countdown, left > 0 ? clockText(Math.ceil(left)) : '0:00');
    // This viewer's own answer shows at once, before the row that carries it (held up to 1 s).
    const listed = (check.ready_user_ids || []).includes(this.app.userId);
    const mine = this.answered === true && !listed ? 1 : this.answered === false && listed ? -1 : 0;
    const ready = check.ready_count + mine;
    const expected = Math.max(check.expected_count, ready);
    const you = this.answered === true ? ' · you are ready' : '';
    const countText = `${ready} of ${expected} ready${you}`;
    if (this.count.textContent !== countText) fill(this.count, countText);
    const buttonText = this.answered === true ? 'Not ready after all' : 'Ready';
    if (this.button.textContent !== buttonText) {
      fill(this.button, buttonText);
      this.button.classList.toggle('primary', this.answered !== true);
    }
    if (this.auto.checked && this.answered === null && !this.autoAnswered && this.videoReady(check)) {
      this.autoAnswered = true;
      fill(this.autoNote, 'Your video has loaded the episode: the page answered ready for you.');
      this.respond(true);
    } else if (!this.autoAnswered) {
      fill(this.autoNote, this.auto.checked ? 'The page answers ready for you once your video has loaded the episode.' : '');
    }
    if (left <= 0 && !this.settling && this.settles < MAX_SETTLES && now >= this.nextSettle) this.settle();
  }

  async start(to) {
    const timeout = Math.min(300, Math.max(5, Number(this.timeout.value) || 30));
    try {
      const answer = await call(this.app.supabase, 'ready-check-start', { room_id: this.roomId, to, timeout });
      if (answer.room) this.onRoom(answer.room);
      this.take(answer.check);
    } catch (err) {
      this.onError(explain(err));
    }
  }

  async respond(ready) {
    const check = this.check;
    if (!check || check.status !== 'open') return;
    this.answered = ready;
    this.tick();
    try {
      const answer = await call(this.app.supabase, 'ready-check-respond', { room_id: this.roomId, check_id: check.check_id, ready });
      this.take(answer);
      this.afterHeld(answer);
    } catch (err) {
      if (err.code !== 'WR409') this.onError(explain(err));
    }
  }

  /** An answer held back is published by a settle once `held` seconds have passed. */
  afterHeld(answer) {
    const held = Number(answer && answer.held) || 0;
    if (held <= 0 || !this.isOpen) return;
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldTimer = setTimeout(() => {
      this.heldTimer = null;
      this.settle({ held: true });
    }, held * 1000 + 20);
  }

  async settle({ cancel = false, held = false } = {}) {
    const check = this.check;
    if (!check || check.status !== 'open') return;
    if (!cancel && !held) this.settles += 1;
    this.settling = true;
    try {
      const body = { room_id: this.roomId, check_id: check.check_id };
      if (cancel) body.cancel = true;
      const answer = await call(this.app.supabase, 'ready-check-settle', body);
      this.take(answer);
      this.afterHeld(answer);
    } catch (err) {
      if (cancel || err.code !== 'WR409') this.onError(explain(err));
    } finally {
      this.settling = false;
      this.nextSettle = this.clock.serverNow() + SETTLE_RETRY;
    }
  }
}
