// The episode queue (docs/NIGHTS.md, "The queue"): the room's room_queue rows, live, the entry
// the room plays highlighted; for the host and co-hosts, adding, removing and reordering
// entries, previous / next / play this one, auto-advance, and the ready check's start buttons.
// With auto-advance on, this page reports the end of the current entry once the room reaches
// it (queue-go "ended"); the database moves the room only for a real end, and only once.
import { call, explain } from './api.js';
import { h, fill, clockText, field } from './dom.js';

const END_MARGIN = 0.25; // s: the database takes an end within 1 s of the entry's duration

export class QueuePanel {
  /**
   * @param onRoom      (row) => the room as an answer has it (queue-go)
   * @param readyStart  the ready check's start controls (an element), shown with the controls
   */
  constructor(app, { roomId, onRoom = () => {}, onError = () => {}, onDone = () => {}, readyStart = null }) {
    this.app = app;
    this.roomId = roomId;
    this.onRoom = onRoom;
    this.onError = onError;
    this.onDone = onDone;
    this.entries = new Map();
    this.currentId = null;
    this.autoAdvance = false;
    this.canControl = false;
    this.reported = null;
    this.list = h('ol.queue', { 'aria-label': 'Queue' });
    this.empty = h('p.muted', {}, 'Nothing queued yet.');
    this.auto = h('input', { type: 'checkbox' });
    this.auto.addEventListener('change', () => this.setAutoAdvance(this.auto.checked));
    this.autoNote = h('p.muted.auto-note');
    this.controls = h(
      'div.queue-controls',
      { role: 'group', 'aria-label': 'Queue controls', hidden: true },
      h('div.row', {}, h('button', { type: 'button', onclick: () => this.go('previous') }, 'Previous episode'), h('button', { type: 'button', onclick: () => this.go('next') }, 'Next episode')),
      h('label.check', {}, this.auto, 'Auto-advance: go to the next episode when this one ends'),
      readyStart,
      this.addForm(),
    );
    this.element = h('section.card.queue-panel', { 'aria-labelledby': 'queue-title' }, h('h2', { id: 'queue-title' }, 'Episode queue'), this.list, this.empty, this.autoNote, this.controls);
  }

  addForm() {
    const input = (attrs) => h('input', attrs);
    this.form = {
      episode: input({ type: 'number', min: 1, step: 1, required: true }),
      title: input({ maxLength: 255 }),
      url: input({ type: 'url', required: true, placeholder: 'https://…' }),
      duration: input({ type: 'number', min: 1, step: 0.1, required: true, placeholder: 'seconds' }),
      opening_start: input({ type: 'number', min: 0, step: 0.1 }),
      opening_end: input({ type: 'number', min: 0, step: 0.1 }),
      ending_start: input({ type: 'number', min: 0, step: 0.1 }),
      ending_end: input({ type: 'number', min: 0, step: 0.1 }),
    };
    this.formError = h('p.error', { role: 'alert' });
    const f = this.form;
    const form = h(
      'form.queue-add',
      { 'aria-label': 'Add an episode' },
      field('Episode number', f.episode),
      field('Episode title', f.title),
      field('Video URL', f.url),
      field('Duration (s)', f.duration, 'The video\'s length in seconds (2:00 is 120).'),
      h(
        'details',
        {},
        h('summary', {}, 'Opening and ending (optional)'),
        h('div.mark-grid', {}, field('Opening starts (s)', f.opening_start), field('Opening ends (s)', f.opening_end), field('Ending starts (s)', f.ending_start), field('Ending ends (s)', f.ending_end)),
      ),
      h('button.primary', { type: 'submit' }, 'Add to queue'),
      this.formError,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.add();
    });
    return h('details.queue-add-box', {}, h('summary', {}, 'Add an episode'), form);
  }

  /** The host's and co-hosts' controls, or none. */
  setControl(canControl) {
    if (canControl === this.canControl) return;
    this.canControl = canControl;
    this.controls.hidden = !canControl;
    this.render();
  }

  /** The whole queue (queue-get): after joining and after every (re)subscription. */
  setQueue(answer) {
    this.entries = new Map(answer.entries.map((entry) => [entry.id, entry]));
    this.currentId = answer.current_entry_id || null;
    this.autoAdvance = Boolean(answer.auto_advance);
    this.render();
  }

  async load() {
    // Changes that arrive while the read is on its way are newer than it: kept over it.
    const arrived = [];
    this.arriving = arrived;
    try {
      const answer = await call(this.app.supabase, 'queue-get', { room_id: this.roomId });
      this.setQueue(answer);
      for (const change of arrived) this.onChange(change);
      return answer;
    } finally {
      if (this.arriving === arrived) this.arriving = null;
    }
  }

  /** A room_queue change over Realtime (a DELETE carries only the key). */
  onChange(change) {
    if (this.arriving && !this.arriving.includes(change)) this.arriving.push(change);
    if (change.eventType === 'DELETE') {
      const old = change.old || {};
      if (!this.entries.delete(old.id)) return;
    } else if (change.new && change.new.id) {
      this.entries.set(change.new.id, change.new);
    }
    this.render();
  }

  /** The room's row: the entry it plays, and auto-advance. */
  setRoom(row) {
    const current = row.current_entry_id || null;
    const auto = Boolean(row.auto_advance);
    if (current === this.currentId && auto === this.autoAdvance) return;
    if (current !== this.currentId) this.reported = null;
    this.currentId = current;
    this.autoAdvance = auto;
    this.render();
  }

  get ordered() {
    return [...this.entries.values()].sort((a, b) => Number(a.sort_key) - Number(b.sort_key));
  }

  get current() {
    return (this.currentId && this.entries.get(this.currentId)) || null;
  }

  render() {
    const entries = this.ordered;
    this.empty.hidden = entries.length > 0;
    if (document.activeElement !== this.auto) this.auto.checked = this.autoAdvance;
    fill(this.autoNote, this.autoAdvance ? 'Auto-advance is on: the next episode follows this one (paused at its start).' : '');
    fill(
      this.list,
      entries.map((entry, index) => {
        const current = entry.id === this.currentId;
        const name = `episode ${entry.episode_number}`;
        return h(
          `li.queue-entry${current ? '.current' : ''}`,
          { dataset: { entryId: entry.id }, 'aria-current': current ? 'true' : undefined },
          h(
            'div.entry-text',
            {},
            h('span.entry-title', {}, `${entry.anime_title} · episode ${entry.episode_number}`, entry.title ? ` · ${entry.title}` : ''),
            h('span.muted', {}, ` ${clockText(entry.duration)}`),
            current ? h('span.badge', {}, 'playing') : null,
          ),
          this.canControl
            ? h(
                'div.entry-actions',
                {},
                current ? null : h('button', { type: 'button', 'aria-label': `Play ${name} now`, onclick: () => this.go('entry', entry.id) }, 'Play'),
                h('button', { type: 'button', 'aria-label': `Move ${name} up`, disabled: index === 0, onclick: () => this.moveUp(index) }, '↑'),
                h('button', { type: 'button', 'aria-label': `Move ${name} down`, disabled: index === entries.length - 1, onclick: () => this.moveDown(index) }, '↓'),
                h('button', { type: 'button', 'aria-label': `Remove ${name}`, onclick: () => this.remove(entry) }, 'Remove'),
              )
            : null,
        );
      }),
    );
  }

  async act(name, body, done) {
    try {
      const answer = await call(this.app.supabase, name, { room_id: this.roomId, ...body });
      if (done) done(answer);
      return answer;
    } catch (err) {
      this.onError(explain(err));
      return null;
    }
  }

  go(to, entryId) {
    return this.act('queue-go', entryId ? { to, entry_id: entryId } : { to }, (room) => {
      this.onRoom(room);
      this.onDone(`Now: ${room.anime_title}, episode ${room.episode_number} (paused at the start).`);
    });
  }

  remove(entry) {
    return this.act('queue-remove', { entry_id: entry.id }, () => {
      this.entries.delete(entry.id);
      this.render();
    });
  }

  move(entry, after) {
    const body = { entry_id: entry.id };
    if (after) body.after_entry_id = after.id;
    return this.act('queue-move', body, (answer) => {
      if (answer && answer.entry) this.entries.set(answer.entry.id, answer.entry);
      this.render();
    });
  }

  moveUp(index) {
    const entries = this.ordered;
    return this.move(entries[index], index >= 2 ? entries[index - 2] : null);
  }

  moveDown(index) {
    const entries = this.ordered;
    return this.move(entries[index], entries[index + 1]);
  }

  setAutoAdvance(on) {
    return this.act('queue-auto-advance', { on }, (room) => this.onRoom(room)).then(() => this.render());
  }

  async add() {
    const f = this.form;
    fill(this.formError);
    const body = {
      episode_number: Number(f.episode.value),
      video_url: f.url.value.trim(),
      duration: Number(f.duration.value),
    };
    if (f.title.value.trim()) body.title = f.title.value.trim();
    for (const [segment, label] of [['opening', 'The opening'], ['ending', 'The ending']]) {
      const start = f[`${segment}_start`].value.trim();
      const end = f[`${segment}_end`].value.trim();
      if (!start && !end) continue;
      if (!start || !end || Number(start) >= Number(end)) {
        fill(this.formError, `${label}: give where it starts and where it ends (after the start), or neither.`);
        return;
      }
      body[`${segment}_start`] = Number(start);
      body[`${segment}_end`] = Number(end);
    }
    const answer = await this.act('queue-add', body);
    if (!answer) return;
    this.entries.set(answer.entry.id, answer.entry);
    this.render();
    for (const input of Object.values(f)) input.value = '';
    this.onDone(`Added episode ${answer.entry.episode_number} to the queue.`);
  }

  /**
   * A few times a second: with auto-advance on, the end of the current entry reached by the
   * room is reported once (any member may; the database moves the room for the first report).
   */
  watchEnd(position, playing) {
    const entry = this.current;
    if (!this.autoAdvance || !entry || !playing || position < Number(entry.duration) - END_MARGIN) return;
    if (this.reported === entry.id) return;
    this.reported = entry.id;
    call(this.app.supabase, 'queue-go', { room_id: this.roomId, to: 'ended', entry_id: entry.id })
      .then((room) => room && room.advanced && this.onRoom(room))
      .catch(() => {
        setTimeout(() => {
          if (this.reported === entry.id) this.reported = null;
        }, 2000);
      });
  }
}
