// The room's page: layout, banners and notices. Everything a user wrote goes in as text.
import { h, fill, clockText, field } from './dom.js';

export class RoomView {
  constructor(root, { roomId, onLeave }) {
    this.root = root;
    this.roomId = roomId;
    this.onLeave = onLeave;
    this.bannerTimer = null;
  }

  joining() {
    fill(this.root, h('p.muted.center', { role: 'status' }, 'Joining the room…'));
  }

  refused(err, text, retryWithKey) {
    const parts = [h('h2', {}, 'Cannot join this room'), h('p.error', { role: 'alert' }, text)];
    if (['WRK03', 'WR404', 'WRL29'].includes(err.code)) {
      const key = h('input', { inputMode: 'numeric', pattern: '[0-9]{6}', maxLength: 6, required: true, placeholder: '6 digits' });
      const form = h('form', {}, field('Access key', key), h('button.primary', { type: 'submit' }, 'Join with this key'));
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        if (/^\d{6}$/.test(key.value.trim())) retryWithKey(key.value.trim());
      });
      parts.push(form);
    }
    parts.push(h('p', {}, h('a', { href: '#/' }, 'Back to the lobby')));
    fill(this.root, h('section.card.narrow', {}, parts));
  }

  build({ members, comments, shareLink, stats, queue, ready }) {
    this.title = h('h1.room-title');
    this.subtitle = h('p.muted');
    this.bannerEl = h('div.banner', { role: 'status', 'aria-live': 'assertive', hidden: true });
    this.noticeEl = h('p.notice', { role: 'status', 'aria-live': 'polite', hidden: true });
    this.video = h('video', { tabIndex: -1, 'aria-label': 'Episode video' });
    this.overlay = h('div.overlay', { hidden: true });
    this.controlsSlot = h('div.controls-slot');
    this.syncEl = h('p.sync-line', { 'aria-live': 'off' });
    this.sourceEl = h('p.muted.source');
    this.durationEl = h('p.warning', { role: 'alert', hidden: true });
    this.videoErrorEl = h('div.warning', { role: 'alert', hidden: true });
    this.fileInput = h('input', { type: 'file', accept: 'video/*' });
    const share = h('input.share', { value: shareLink, readOnly: true, 'aria-label': 'Share link' });
    const copy = h('button', { type: 'button', onclick: () => navigator.clipboard && navigator.clipboard.writeText(share.value).catch(() => share.select()) }, 'Copy');
    fill(
      this.root,
      this.bannerEl,
      h(
        'header.top.room-head',
        {},
        h('div', {}, this.title, this.subtitle),
        h('div.head-actions', {}, stats.button, h('a.button', { href: '#/' }, 'Lobby'), h('button', { type: 'button', onclick: () => this.onLeave() }, 'Leave room')),
      ),
      this.noticeEl,
      ready,
      h(
        'div.room',
        {},
        h(
          'section.stage',
          { 'aria-label': 'Video' },
          h('div.video-box', {}, this.video, this.overlay),
          this.controlsSlot,
          this.syncEl,
          this.durationEl,
          this.videoErrorEl,
          h('details.local', {}, h('summary', {}, 'Play a local file instead'), field('Video file', this.fileInput, 'Your own copy of the episode; it stays on your device.'), this.sourceEl),
          h('div.share-row', {}, h('label', {}, 'Invite: '), share, copy),
        ),
        h('div.side', {}, stats.element, queue, members, comments),
      ),
    );
    return this.video;
  }

  header(row) {
    fill(this.title, row.title);
    fill(this.subtitle, `${row.anime_title} · episode ${row.episode_number} · ${row.is_public ? 'public' : 'private'} room ${this.roomId}`);
  }

  /** The controls for the host and co-hosts (`role`: 'host' or 'cohost'), or none. */
  hostControls(elements, role) {
    if (!elements) {
      fill(this.controlsSlot, h('p.muted', {}, 'The host controls playback; your video follows the room.'));
      return;
    }
    const note = role === 'cohost' ? h('p.muted', {}, 'You are a co-host: you control playback with the host.') : null;
    fill(this.controlsSlot, note, elements);
  }

  /** Kicked or banned: the room is gone from this page, with why and a way back. */
  removed(text) {
    fill(
      this.root,
      h('section.card.narrow', {}, h('h2', {}, 'Removed from this room'), h('p.error', { role: 'alert' }, text), h('p', {}, h('a', { href: '#/' }, 'Back to the lobby'))),
    );
  }

  notice(text, kind = 'info') {
    this.noticeEl.className = `notice ${kind}`;
    fill(this.noticeEl, text);
    this.noticeEl.hidden = false;
  }

  banner(kind, text, hideAfterMs = 0) {
    if (this.bannerTimer) clearTimeout(this.bannerTimer);
    this.bannerTimer = null;
    this.bannerEl.className = `banner ${kind}`;
    this.bannerEl.dataset.state = kind;
    fill(this.bannerEl, text);
    this.bannerEl.hidden = false;
    if (hideAfterMs) {
      this.bannerTimer = setTimeout(() => {
        this.bannerEl.hidden = true;
      }, hideAfterMs);
    }
  }

  autoplayBlocked(how, resume) {
    const text = how === 'muted' ? 'Sound is off (the browser started the video muted): click to unmute' : 'Click to start watching';
    fill(this.overlay, h('button.primary.big', { type: 'button', onclick: () => {
      this.overlay.hidden = true;
      resume();
    } }, text));
    this.overlay.hidden = false;
  }

  videoError(url, demoClip, useSource) {
    const parts = [
      h('p', {}, 'Your browser cannot play this room\'s video', url ? ` (${url})` : '', '. Pick your own copy of the episode under "Play a local file instead".'),
    ];
    if (demoClip) parts.push(h('button', { type: 'button', onclick: () => useSource(demoClip) }, 'Watch the demo clip instead'));
    fill(this.videoErrorEl, parts);
    this.videoErrorEl.hidden = false;
  }

  onLocalFile(callback) {
    this.fileInput.addEventListener('change', () => {
      const file = this.fileInput.files && this.fileInput.files[0];
      if (file) callback(file);
    });
  }

  source(localName) {
    this.videoErrorEl.hidden = true;
    fill(this.sourceEl, localName ? `Playing your file: ${localName}` : '');
  }

  durationWarning(info) {
    this.durationEl.hidden = !info;
    if (info) {
      fill(this.durationEl, `Your video is ${clockText(info.mine)} long, the host's is ${clockText(info.host)}: it may be another cut of the episode, and the scenes will not line up.`);
    }
  }

  syncLine(text, drift, position) {
    const ms = drift === null ? '' : ` · drift ${drift >= 0 ? '+' : ''}${Math.round(drift * 1000)} ms`;
    fill(this.syncEl, `Room at ${clockText(position)} · you: ${text}${ms}`);
  }
}
