// Skip together (docs/NIGHTS.md): the host's or a co-host's "Skip opening" / "Skip ending" move
// the whole room to the end of the marked segment (rooms-skip; while playing the room restarts
// from there a moment ahead, a scheduled start every engine lands on), and the marks themselves
// (rooms-set-skips), taken from the position now or typed in.
import { call, explain } from './api.js';
import { h, fill, clockText, field } from './dom.js';

const SEGMENTS = [
  ['opening', 'Opening'],
  ['ending', 'Ending'],
];

export class SkipControls {
  /**
   * @param livePosition () => where the room is now (seconds)
   * @param onRoom       (row) => the room as the answer has it
   * @param skip         (segment, done) => sends rooms-skip with the other playback changes
   *                     (HostControls.skip: one at a time, within the room's budget)
   */
  constructor(app, { roomId, livePosition, skip, onRoom = () => {}, onError = () => {}, onDone = () => {} }) {
    this.app = app;
    this.send = skip;
    this.roomId = roomId;
    this.livePosition = livePosition;
    this.onRoom = onRoom;
    this.onError = onError;
    this.onDone = onDone;
    this.row = null;
    this.edited = false;
    this.buttons = {};
    this.inputs = {};
    for (const [segment, label] of SEGMENTS) {
      this.buttons[segment] = h('button.skip', { type: 'button', hidden: true, onclick: () => this.skip(segment) }, `Skip ${segment}`);
      for (const end of ['start', 'end']) {
        const name = `${segment}_${end}`;
        const input = h('input.mark', { type: 'number', min: 0, step: 0.1, inputMode: 'decimal' });
        input.addEventListener('input', () => {
          this.edited = true;
        });
        const words = `${label} ${end === 'start' ? 'starts' : 'ends'}`;
        const now = h('button', { type: 'button', 'aria-label': `${words} now`, onclick: () => this.markNow(name) }, 'Now');
        this.inputs[name] = input;
        this.inputs[`${name}_row`] = h('div.mark-row', {}, field(`${words} (s)`, input), now);
      }
    }
    this.error = h('p.error', { role: 'alert' });
    this.marks = h(
      'details.skip-marks',
      {},
      h('summary', {}, 'Mark opening and ending'),
      h('p.muted', {}, 'Seconds into the episode; "Now" takes where the room is. Leave both ends of one empty to clear it.'),
      SEGMENTS.flatMap(([segment]) => [this.inputs[`${segment}_start_row`], this.inputs[`${segment}_end_row`]]),
      h('button.primary', { type: 'button', onclick: () => this.save() }, 'Save marks'),
      this.error,
    );
    this.element = h('div.skip-controls', { role: 'group', 'aria-label': 'Skip' }, this.buttons.opening, this.buttons.ending, this.marks);
  }

  /** The room's row: which segments are marked. */
  setRoom(row) {
    this.row = row;
    for (const [segment] of SEGMENTS) {
      const marked = row[`${segment}_end`] !== null && row[`${segment}_end`] !== undefined;
      this.buttons[segment].hidden = !marked;
    }
    if (!this.edited) this.fillInputs();
  }

  fillInputs() {
    if (!this.row) return;
    for (const [segment] of SEGMENTS) {
      for (const end of ['start', 'end']) {
        const value = this.row[`${segment}_${end}`];
        this.inputs[`${segment}_${end}`].value = value === null || value === undefined ? '' : String(Number(value));
      }
    }
  }

  /** A few times a second: the button of the segment the room is in now stands out. */
  render(position) {
    if (!this.row) return;
    for (const [segment] of SEGMENTS) {
      const start = this.row[`${segment}_start`];
      const end = this.row[`${segment}_end`];
      const inside = start !== null && start !== undefined && end !== null && end !== undefined && position >= Number(start) && position < Number(end);
      const button = this.buttons[segment];
      if (button.classList.contains('inside') !== inside) {
        button.classList.toggle('inside', inside);
        button.classList.toggle('primary', inside);
        fill(button, inside ? `Skip ${segment} (playing now, to ${clockText(end)})` : `Skip ${segment}`);
      }
    }
  }

  markNow(name) {
    this.inputs[name].value = String(Math.round(this.livePosition() * 10) / 10);
    this.edited = true;
    this.marks.open = true;
  }

  skip(segment) {
    this.send(segment, (room) => {
      this.onRoom(room);
      this.onDone(`Skipped the ${segment}: the room goes on from ${clockText(room.to)}.`);
    });
  }

  async save() {
    const body = { room_id: this.roomId };
    fill(this.error);
    for (const [segment, label] of SEGMENTS) {
      const start = this.inputs[`${segment}_start`].value.trim();
      const end = this.inputs[`${segment}_end`].value.trim();
      if (!start && !end) continue;
      if (!start || !end) {
        fill(this.error, `${label}: give where it starts and where it ends, or leave both empty.`);
        return;
      }
      if (Number(start) >= Number(end)) {
        fill(this.error, `${label}: it must end after it starts.`);
        return;
      }
      body[`${segment}_start`] = Number(start);
      body[`${segment}_end`] = Number(end);
    }
    try {
      const room = await call(this.app.supabase, 'rooms-set-skips', body);
      this.edited = false;
      this.onRoom(room);
      this.onDone('Opening and ending marks saved.');
    } catch (err) {
      fill(this.error, explain(err));
    }
  }
}
