// The episode's comment thread: newest at the bottom, each with the video time it was posted
// at, live; comments that arrived while the connection was down are marked when it is back.
// Comments stamped later in the episode than where the room is come from the server as spoilers
// (marked, without their text) until the viewer asks to see them.
import { call, explain } from './api.js';
import { h, fill, clockText } from './dom.js';

export class CommentThread {
  constructor(app, { roomId, onSeekRequest }) {
    this.app = app;
    this.roomId = roomId;
    this.onSeekRequest = onSeekRequest;
    this.byId = new Map();
    this.list = h('ol.comments', { 'aria-live': 'polite', 'aria-label': 'Comments' });
    this.error = h('p.error', { role: 'alert' });
    this.input = h('textarea', { rows: 2, maxLength: 1000, placeholder: 'Say something (Enter to send)', 'aria-label': 'Comment' });
    this.send = h('button.primary', { type: 'submit' }, 'Send');
    this.form = h('form.comment-form', {}, this.input, this.send);
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.element = h('section.card.thread', { 'aria-labelledby': 'thread-title' }, h('h2', { id: 'thread-title' }, 'Comments'), this.list, this.form, this.error);
    this.room = null;
    this.positionNow = () => null;
  }

  /** Loads the newest page; returns how many comments were not shown before. */
  async load(room, { revealSpoilers = false } = {}) {
    if (this.room && (this.room.episode_number !== room.episode_number || this.room.anime_id !== room.anime_id)) {
      // Another episode: its own thread.
      this.byId.clear();
      fill(this.list);
    }
    this.room = room;
    const page = await call(this.app.supabase, 'comments-get-by-episode', {
      anime_id: room.anime_id,
      episode_number: room.episode_number,
      room_id: this.roomId,
      limit: 100,
      reveal_spoilers: revealSpoilers,
    });
    if (revealSpoilers) {
      for (const comment of page.comments) this.reveal(comment);
    }
    const firstLoad = this.byId.size === 0;
    let added = 0;
    for (const comment of page.comments) if (this.add(comment, { missed: !firstLoad })) added += 1;
    return firstLoad ? 0 : added;
  }

  /** Shows one comment (once); true when it was new. */
  add(comment, { missed = false } = {}) {
    if (comment.is_anchor || this.byId.has(comment.id)) return false;
    if (this.room && (comment.episode_number !== this.room.episode_number || comment.anime_id !== this.room.anime_id)) return false;
    const stamp =
      comment.video_timestamp === null || comment.video_timestamp === undefined
        ? null
        : h(
            'button.stamp',
            {
              type: 'button',
              title: 'Jump to this moment (host)',
              onclick: () => this.onSeekRequest(Number(comment.video_timestamp)),
            },
            clockText(comment.video_timestamp),
          );
    const item = h(
      `li.comment${comment.is_system_message ? '.system' : ''}${missed ? '.missed' : ''}`,
      { dataset: { id: comment.id, created: comment.created_at } },
      stamp,
      h('span.author', {}, comment.is_system_message ? '' : comment.username),
      comment.is_spoiler && comment.message === null
        ? h('span.text.spoiler', {}, 'Spoiler: written later in the episode. ', h('button.link', { type: 'button', onclick: () => this.load(this.room, { revealSpoilers: true }) }, 'Show'))
        : h('span.text', {}, comment.message),
    );
    this.byId.set(comment.id, item);
    // Keep time order: a late arrival (refetched after a drop) goes where it belongs.
    const after = [...this.list.children].find((li) => li.dataset.created > comment.created_at);
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.insertBefore(item, after || null);
    if (stick) this.list.scrollTop = this.list.scrollHeight;
    return true;
  }

  /** Puts a spoiler's text in place once it was asked for. */
  reveal(comment) {
    const item = this.byId.get(comment.id);
    const hidden = item && item.querySelector('.spoiler');
    if (hidden && comment.message !== null) hidden.replaceWith(h('span.text', {}, comment.message));
  }

  bind(positionNow) {
    this.positionNow = positionNow;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.post();
    });
  }

  async post() {
    const message = this.input.value.trim();
    if (!message || !this.room) return;
    this.send.disabled = true;
    fill(this.error);
    try {
      const at = this.positionNow();
      const comment = await call(this.app.supabase, 'comments-create', {
        anime_id: this.room.anime_id,
        episode_number: this.room.episode_number,
        room_id: this.roomId,
        username: this.app.username,
        message,
        video_timestamp: at === null ? undefined : Math.max(0, Math.round(at * 100) / 100),
      });
      this.add(comment);
      this.input.value = '';
    } catch (err) {
      fill(this.error, explain(err));
    } finally {
      this.send.disabled = false;
    }
  }
}
