// The member list: who is in the room (rows of room_members, live) and how each one's player is
// doing (presence: in sync, buffering, drifting), with this viewer's own drift measured live.
import { h, fill } from './dom.js';

export class MemberList {
  constructor(selfId) {
    this.selfId = selfId;
    this.rows = new Map();
    this.presence = new Map();
    this.self = { kind: 'waiting', text: 'joining', drift: null };
    this.list = h('ul.members', { 'aria-label': 'Members' });
    this.count = h('span.muted');
    this.element = h('section.card.people', { 'aria-labelledby': 'members-title' }, h('h2', { id: 'members-title' }, 'Members ', this.count), this.list);
  }

  setRows(rows) {
    this.rows = new Map(rows.map((row) => [row.user_id, row]));
    this.render();
  }

  upsert(row) {
    if (!this.rows.has(row.user_id) && !row.username) return;
    this.rows.set(row.user_id, { ...(this.rows.get(row.user_id) || {}), ...row });
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

  render() {
    const rows = [...this.rows.values()].sort((a, b) => String(a.joined_at).localeCompare(String(b.joined_at)));
    fill(this.count, `(${rows.length})`);
    fill(
      this.list,
      rows.map((row) => {
        const status = this.statusOf(row);
        return h(
          'li.member',
          { dataset: { userId: row.user_id, status: status.kind } },
          h('span.name', {}, row.username, row.user_id === this.selfId ? ' (you)' : ''),
          row.is_host ? h('span.badge', {}, 'host') : null,
          h(`span.status.${status.kind}`, {}, status.text),
        );
      }),
    );
  }
}
