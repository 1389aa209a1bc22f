// An episode night in a room (docs/NIGHTS.md): the queue, the ready check and skipping the
// opening or ending together, put together for the room's page. The page hands it the room's
// rows and the changes of room_queue and ready_checks from its channel.
import { QueuePanel } from './queue.js';
import { ReadyCheck } from './ready.js';
import { SkipControls } from './skips.js';

export class EpisodeNight {
  /**
   * @param page  the room's page: its clock, row, live position, controls and player, and
   *              takeRow for the room as an answer has it
   */
  constructor(app, page, { onError, onDone }) {
    const said = { onError, onDone };
    const onRoom = (row) => row && page.takeRow(row);
    const roomId = page.roomId;
    this.roomId = roomId;
    this.ready = new ReadyCheck(app, {
      roomId,
      clock: page.clock,
      videoReady: (check) => page.videoReadyFor(check),
      episode: () => `${page.row.anime_title}, episode ${page.row.episode_number}`,
      onRoom,
      ...said,
    });
    this.queue = new QueuePanel(app, { roomId, onRoom, readyStart: this.ready.startControls, ...said });
    this.skips = new SkipControls(app, {
      roomId,
      livePosition: () => page.livePosition(),
      skip: (segment, done) => page.controls.skip(segment, done),
      onRoom,
      ...said,
    });
  }

  /** A change from the channel; false when it is not the night's. */
  onChange(change) {
    if (change.table === 'room_queue') this.queue.onChange(change);
    else if (change.table === 'ready_checks') this.ready.take(change.new || {});
    else return false;
    return true;
  }

  /** The room's row: the entry it plays, auto-advance, the marked segments. */
  setRoom(row) {
    this.queue.setRoom(row);
    this.skips.setRoom(row);
  }

  /** Host or co-host: the controls of the queue, the check and skipping; else none. */
  setControl(canControl) {
    this.queue.setControl(canControl);
    this.ready.setControl(canControl);
  }

  /** The queue and the ready check again (after every (re)subscription). */
  async load() {
    const answer = await this.queue.load();
    this.ready.take(answer.ready_check);
  }

  /** A few times a second, with where the room is and whether it is moving. */
  render(position, moving, canControl) {
    if (canControl) this.skips.render(position);
    this.queue.watchEnd(position, moving);
  }

  close() {
    this.ready.close();
  }
}
