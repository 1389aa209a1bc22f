// The member list: who is in the room (rows of room_members, live) and how each one's player is
// doing (presence: in sync, buffering, drifting), with this viewer's own drift measured live.
// Host and co-host wear a badge; the host (and a co-host, for plain members) has each member's
// moderation at hand: co-host, mute, kick, ban (docs/NIGHTS.md, "Moderation").
import { call, explain } from './api.js';
import { h, fill } from './dom.js';
import { parseServerTime } from './sync/clock.js';

export class MemberList {
  /**
   * @param app     the page's app (supabase client, user id)
   * @param roomId  the room
   * @param onError (text) => shows a refusal in words
   * @param onDone  (text) => says what an action did
   */
  constructor(selfId, { app = null, roomId = '', onError = () => {}, onDone = () => {} } = {}) {
    this.selfId = selfId;
    this.app = app;
    this.roomId = roomId;
    this.onError = onError;
    this.onDone = onDone;
    this.rows = new Map();
    this.presence = new Map();
    this.muted = new Set(); // muted from this page (mutes are not published)
    this.banned = new Map(); // user id -> name, banned from this page (unban)
    this.busy = false;
    this.self = { kind: 'waiting', text: 'joining', drift: null };
    this.list = h('ul.members', { 'aria-label': 'Members' });
    this.count = h('span.muted');
    this.bannedEl = h('div.banned', { hidden: true });
    this.element = h('section.card.people', { 'aria-labelledby': 'members-title' }, h('h2', { id: 'members-title' }, 'Members ', this.count), this.list, this.bannedEl);
  }

  /** This viewer's row (null before the list is in). */
  get me() {
    return this.rows.get(this.selfId) || null;
  }

  setRows(rows) {
    // A list read before a change that Realtime already brought must not undo it.
    this.rows = new Map(rows.map((row) => [row.user_id, newer(this.rows.get(row.user_id), row)]));
    this.render();
  }

  upsert(row) {
    if (!this.rows.has(row.user_id) && !row.username) return;
    this.rows.set(row.user_id, newer(this.rows.get(row.user_id), row));
    this.render();
  }

  remove(userId) {
    this.rows.delete(userId);
    this.render();
  }

  setPresence(state) {
    this.presence = new Map();
    for (const [key, metas] of Object.entries(state)) {
      if (metas.length) this.presence.set(key, metas[metas.length - 1]);
    }
    this.render();
  }

  setSelf(kind, text, drift) {
    const rounded = drift === null ? null : Math.round(drift * 1000);
    if (kind === this.self.kind && text === this.self.text && rounded === this.self.drift) return;
    this.self = { kind, text, drift: rounded };
    this.render();
  }

  statusOf(row) {
    if (row.user_id === this.selfId) {
      const d = this.self.drift;
      const ms = d === null ? '' : ` ${d >= 0 ? '+' : ''}${d} ms`;
      return { kind: this.self.kind, text: `${this.self.text}${ms}` };
    }
    const p = this.presence.get(row.user_id);
    if (!p) return { kind: 'offline', text: 'offline' };
    if (p.buffering) return { kind: 'buffering', text: 'buffering' };
    if (p.synced === false) return { kind: 'drift', text: 'drift' };
    return { kind: 'in-sync', text: 'in sync' };
  }

  /** What this viewer may do to `row`: the host to anyone else, a co-host to plain members. */
  actionsFor(row) {
    const me = this.me;
    if (!this.app || !me || row.user_id === this.selfId) return [];
    const plain = !row.is_host && !row.is_cohost;
    if (!me.is_host && !(me.is_cohost && plain)) return [];
    const actions = [];
    if (me.is_host) actions.push(row.is_cohost ? ['revoke', 'Revoke co-host'] : ['cohost', 'Make co-host']);
    actions.push(this.muted.has(row.user_id) ? ['unmute', 'Unmute'] : ['mute', 'Mute']);
    actions.push(['kick', 'Kick'], ['ban', 'Ban']);
    return actions;
  }

  render() {
    const rows = [...this.rows.values()].sort((a, b) => String(a.joined_at).localeCompare(String(b.joined_at)));
    fill(this.count, `(${rows.length})`);
    // Items are kept while what they show of the member stays the same (the status changes a
    // few times a second): an open "Manage" menu and the focus in it stay put.
    const items = new Map();
    for (const row of rows) {
      const status = this.statusOf(row);
      const actions = this.actionsFor(row);
      const key = JSON.stringify([row.username, row.is_host, row.is_cohost, this.muted.has(row.user_id), actions, this.busy]);
      let item = this.items && this.items.get(row.user_id);
      if (!item || item.key !== key) item = { key, element: this.item(row, actions) };
      const li = item.element;
      li.dataset.status = status.kind;
      const statusEl = li.querySelector('.status');
      statusEl.className = `status ${status.kind}`;
      if (statusEl.textContent !== status.text) statusEl.textContent = status.text;
      items.set(row.user_id, item);
    }
    this.items = items;
    const wanted = [...items.values()].map((item) => item.element);
    if (wanted.length !== this.list.children.length || wanted.some((el, i) => this.list.children[i] !== el)) fill(this.list, wanted);
    this.renderBanned();
  }

  item(row, actions) {
    const details = actions.length
      ? h(
          'details.member-actions',
          {},
          h('summary', { 'aria-label': `Manage ${row.username}` }, 'Manage'),
          h(
            'div.member-action-list',
            { role: 'group', 'aria-label': `Actions for ${row.username}` },
            actions.map(([action, label]) => h('button', { type: 'button', disabled: this.busy, onclick: () => this.act(action, row) }, label)),
          ),
        )
      : null;
    const previous = this.items && this.items.get(row.user_id);
    const wasOpen = previous && previous.element.querySelector('details[open]');
    if (details && wasOpen) details.open = true;
    return h(
      'li.member',
      { dataset: { userId: row.user_id } },
      h('span.name', {}, row.username, row.user_id === this.selfId ? ' (you)' : ''),
      row.is_host ? h('span.badge', {}, 'host') : null,
      row.is_cohost ? h('span.badge.cohost', {}, 'co-host') : null,
      this.muted.has(row.user_id) ? h('span.badge.muted-badge', {}, 'muted') : null,
      h('span.status'),
      details,
    );
  }

  renderBanned() {
    const me = this.me;
    const show = this.banned.size > 0 && me && (me.is_host || me.is_cohost);
    this.bannedEl.hidden = !show;
    if (!show) return;
    fill(
      this.bannedEl,
      h('h3', {}, 'Banned'),
      h(
        'ul.members',
        { 'aria-label': 'Banned' },
        [...this.banned].map(([userId, name]) => h('li.member', {}, h('span.name', {}, name), h('button', { type: 'button', onclick: () => this.act('unban', { user_id: userId, username: name }) }, 'Unban'))),
      ),
    );
  }

  /** One moderation action through members-set-cohost or rooms-moderate. */
  async act(action, row) {
    if (this.busy) return;
    this.busy = true;
    this.render();
    const name = row.username || 'that member';
    try {
      if (action === 'cohost' || action === 'revoke') {
        const answer = await call(this.app.supabase, 'members-set-cohost', { room_id: this.roomId, target_user_id: row.user_id, is_cohost: action === 'cohost' });
        if (answer && answer.member) this.upsert(answer.member);
        this.onDone(action === 'cohost' ? `${name} is a co-host now.` : `${name} is no longer a co-host.`);
      } else {
        const answer = await call(this.app.supabase, 'rooms-moderate', { room_id: this.roomId, action, target_user_id: row.user_id });
        if (action === 'mute') this.muted.add(row.user_id);
        if (action === 'unmute') this.muted.delete(row.user_id);
        if (action === 'ban') this.banned.set(row.user_id, name);
        if (action === 'unban') this.banned.delete(row.user_id);
        if (action === 'kick' || action === 'ban') this.rows.delete(row.user_id);
        const [done, already] = {
          mute: ['is muted', 'was muted already'],
          unmute: ['may comment again', 'was not muted'],
          kick: ['was removed from the room', 'was not in the room'],
          ban: ['is banned', 'was banned already'],
          unban: ['may join again', 'was not banned'],
        }[action];
        this.onDone(answer && answer.changed === false ? `Nothing changed: ${name} ${already}.` : `${name} ${done}.`);
      }
    } catch (err) {
      this.onError(explain(err));
    } finally {
      this.busy = false;
      this.render();
    }
  }
}

/** `row` over `known`, unless `known` is a later version of the member (updated_at). */
function newer(known, row) {
  if (known && known.updated_at && row.updated_at && parseServerTime(known.updated_at) > parseServerTime(row.updated_at)) return { ...row, ...known };
  return { ...(known || {}), ...row };
}
