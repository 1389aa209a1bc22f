// A room: join, follow the room's row, members, presence, comments, the episode queue and the
// ready check over its Realtime channel, keep the <video> in step with the sync engine, and say
// clearly when the connection drops and when it is back (then everything is fetched again:
// Realtime replays nothing), and when a moderator removed this viewer.
import { call, explain } from './api.js';
import { ClockSync, parseServerTime } from './sync/clock.js';
import { SyncEngine } from './sync/engine.js';
import { Phase } from './sync/policy.js';
import { hasStarted, playbackFromRow, targetPosition } from './sync/playback.js';
import { VideoPlayer } from './video.js';
import { CommentThread } from './comments.js';
import { MemberList } from './members.js';
import { HostControls } from './controls.js';
import { RoomView } from './room_view.js';
import { StatsPanel } from './stats.js';
import { EpisodeNight } from './night.js';
import { roomShortcut } from './keys.js';

const HEARTBEAT_EVERY = 10000; // members-update-status (silent 30 s: removed)
const CLOCK_EVERY = 5000; // a clock sample and a room refresh
const JOIN_SAMPLES = 5;
const BUFFERING_SHOWN_AFTER = 0.5; // s: shorter stalls are not worth a presence message
const UNSYNCED_SHOWN_AFTER = 5.0; // s

export async function showRoom(app, view, route) {
  const page = new RoomPage(app, view, route);
  await page.open();
  return () => page.close();
}

class RoomPage {
  constructor(app, view, route) {
    this.app = app;
    this.roomId = route.roomId;
    this.key = route.key || sessionStorage.getItem(`watchium.key.${route.roomId}`) || '';
    this.view = new RoomView(view, { roomId: this.roomId, onLeave: () => this.leave() });
    this.clock = new ClockSync();
    this.row = null;
    this.rowVersion = -Infinity;
    this.playback = null;
    this.timers = [];
    this.closed = false;
    this.channel = null;
    this.lost = false;
    this.shown = { buffering: false, synced: true };
    this.since = { buffering: null, unsynced: null };
    this.hostDuration = null;
    this.role = undefined; // 'host', 'cohost' or null once the room is in
    this.checking = false;
  }

  async open() {
    this.view.joining();
    let joined;
    try {
      joined = await this.join();
    } catch (err) {
      this.view.refused(err, explain(err), (key) => this.app.go(`#/room/${this.roomId}?key=${key}`));
      return;
    }
    if (this.key) sessionStorage.setItem(`watchium.key.${this.roomId}`, this.key);
    this.hints = joined.realtime;
    const said = { onError: (text) => this.view.notice(text, 'error'), onDone: (text) => this.view.notice(text, 'info') };
    this.members = new MemberList(this.app.userId, { app: this.app, roomId: this.roomId, ...said });
    this.comments = new CommentThread(this.app, { roomId: this.roomId, onSeekRequest: (t) => this.canControl && this.controls.seekTo(t) });
    this.stats = new StatsPanel(this.app, { roomId: this.roomId });
    this.night = new EpisodeNight(this.app, this, said);
    const video = this.view.build({
      members: this.members.element,
      comments: this.comments.element,
      shareLink: this.shareLink(joined.room),
      stats: this.stats,
      queue: this.night.queue.element,
      ready: this.night.ready.element,
    });
    this.player = new VideoPlayer(video, {
      onAutoplayBlocked: (how) => this.view.autoplayBlocked(how, () => this.player.resumeByUser({ unmute: true })),
      onError: () => this.view.videoError(this.row && this.row.video_url, this.app.config.demoClip, (src) => this.useSource(src)),
      onBuffering: () => this.publishStatus(),
    });
    video.addEventListener('loadedmetadata', () => this.checkDuration());
    video.addEventListener('canplay', () => {
      this.sourceLoaded = true;
    });
    this.view.onLocalFile((file) => this.useSource(URL.createObjectURL(file), file.name));
    // The host's video is the room's reference: not corrected for the host's own actions; when
    // it ends up off the room after one, the room is moved to it.
    const page = this;
    this.engine = new SyncEngine(this.player, this.clock, {
      reference: {
        get isReference() {
          return page.isHost && !page.closed;
        },
        reanchor: (position, at) => page.isHost && page.controls.reanchor(position, at),
      },
    });
    this.controls = new HostControls(this.app, {
      roomId: this.roomId,
      clock: this.clock,
      room: () => this.engine.room || this.playback,
      livePosition: () => this.livePosition(),
      speedLatency: () => this.engine.speedLatency.value,
      duration: () => video.duration,
      onError: (text) => this.view.notice(text, 'error'),
    });
    this.comments.bind(() => (this.playback ? this.livePosition() : null));
    this.takeRow(joined.room);
    this.useSource(this.sourceFor(joined.room.video_url));
    // One round trip is enough to start (its error is at most half of it); the engine takes
    // the better samples that follow, back to back, as they come.
    await this.sampleClock(1);
    this.engine.start();
    this.sampleClock(JOIN_SAMPLES - 1);
    this.subscribe();
    this.refetchSide();
    this.every(HEARTBEAT_EVERY, () => this.heartbeat());
    this.every(CLOCK_EVERY, () => this.sampleClock(1));
    this.every(250, () => this.renderLive());
    this.onOffline = () => this.connectionLost('offline');
    this.onOnline = () => this.reconnect();
    this.onVisible = () => document.hidden || this.engine.realign();
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.onKey = (event) => roomShortcut(event, this);
    document.addEventListener('keydown', this.onKey);
    window.watchiumRoom = this; // for tests and benchmarks: probe() below
  }

  async join() {
    const body = { room_id: this.roomId, username: this.app.username };
    if (this.key) body.access_key = this.key;
    return call(this.app.supabase, 'rooms-join', body);
  }

  get isHost() {
    return this.row !== null && this.row.host_user_id === this.app.userId;
  }

  /** Made co-host by the host: controls playback, the queue and the ready check too. */
  get isCohost() {
    const me = this.members && this.members.me;
    return !this.isHost && Boolean(me && me.is_cohost);
  }

  get canControl() {
    return this.isHost || this.isCohost;
  }

  /** Whether this page's video has loaded what a ready check is for. */
  videoReadyFor(check) {
    if (check.entry_id && this.row.current_entry_id !== check.entry_id) return false;
    return this.sourceLoaded && this.player.video.readyState >= 3; // HAVE_FUTURE_DATA
  }

  livePosition() {
    // The engine's copy of the room knows a scheduled speed change from a scheduled start.
    return targetPosition(this.engine.room || this.playback, this.clock.serverNow());
  }

  shareLink(room) {
    const base = `${window.location.origin}${window.location.pathname}#/room/${this.roomId}`;
    return room.is_public ? base : `${base}?key=${this.key}`;
  }

  sourceFor(url) {
    return this.app.config.videoAliases[url] || url;
  }

  useSource(src, localName = '') {
    this.localName = localName;
    this.sourceLoaded = false;
    this.player.video.src = src;
    this.view.source(localName);
    this.engine.realign();
  }

  /** Takes a room row (Realtime, or an answer), unless an earlier one overtook a later one. */
  takeRow(row) {
    const version = row.updated_at ? parseServerTime(row.updated_at) : -Infinity;
    if (version < this.rowVersion) return;
    this.rowVersion = version;
    const wasHost = this.isHost;
    const before = this.row;
    this.row = { ...(this.row || {}), ...row };
    this.playback = playbackFromRow(this.row);
    this.engine.updateRoom(this.playback);
    this.view.header(this.row);
    this.night.setRoom(this.row);
    if (before && before.video_url !== this.row.video_url) {
      // Another episode (the queue moved on): every page loads it; the engine waits for its
      // metadata, then aligns it with the room as after any host action.
      if (this.localName) this.view.notice(`The room moved to episode ${this.row.episode_number}: playing its video (pick your own file again if you had one).`, 'info');
      this.useSource(this.sourceFor(this.row.video_url));
    }
    if (before && (before.episode_number !== this.row.episode_number || before.anime_id !== this.row.anime_id)) this.comments.load(this.row).catch(() => {});
    if (before && !wasHost && this.isHost) this.view.notice('The host left: you are the host now.', 'info');
    this.updateRole();
    if (before && before.host_user_id !== this.row.host_user_id) {
      this.members.upsert({ user_id: before.host_user_id, is_host: false });
      this.members.upsert({ user_id: this.row.host_user_id, is_host: true });
    }
  }

  async sampleClock(count) {
    for (let i = 0; i < count && !this.closed; i++) {
      const sent = this.clock.now();
      try {
        const room = await call(this.app.supabase, 'sync-get-host-time', { room_id: this.roomId });
        this.clock.addSample(sent, room.server_time, this.clock.now());
        this.takeRow(room);
        if (this.lost && this.channelUp) this.connectionBack();
      } catch (err) {
        if (err.network) this.connectionLost('network');
        else if (err.code === 'WR404') this.view.notice('This room has ended.', 'error');
        return;
      }
    }
  }

  /** Host, co-host or member: the controls, the queue's and the members' actions follow. */
  updateRole() {
    const role = this.isHost ? 'host' : this.isCohost ? 'cohost' : null;
    if (role === this.role) return;
    const before = this.role;
    this.role = role;
    this.view.hostControls(role ? [this.controls.element, this.night.skips.element] : null, role);
    this.night.setControl(Boolean(role));
    this.stats.setHost(role === 'host');
    this.members.render();
    if (before === null && role === 'cohost') this.view.notice('The host made you a co-host: you control playback, the queue and ready checks too.', 'info');
    if (before === 'cohost' && role === null) this.view.notice('You are no longer a co-host.', 'info');
    this.publishStatus(true);
  }

  subscribe() {
    const supabase = this.app.supabase;
    const channel = supabase.channel(this.hints.channel, {
      config: { private: true, presence: { key: this.app.userId } },
    });
    for (const b of this.hints.postgres_changes) {
      channel.on('postgres_changes', { event: b.event, schema: b.schema, table: b.table, filter: b.filter }, (change) => this.onChange(change));
    }
    channel.on('presence', { event: 'sync' }, () => this.onPresence());
    this.channelUp = false;
    this.channel = channel;
    supabase.auth.getSession().then(async ({ data }) => {
      if (this.closed || this.channel !== channel) return;
      if (data.session) await supabase.realtime.setAuth(data.session.access_token);
      channel.subscribe((status) => this.onChannelStatus(channel, status));
    });
  }

  onChannelStatus(channel, status) {
    if (this.closed || channel !== this.channel) return;
    if (status === 'SUBSCRIBED') {
      // Realtime replays nothing: what changed before this subscription is fetched again.
      this.channelUp = true;
      this.publishStatus(true);
      if (this.lost) this.connectionBack();
      else this.refetchSide();
    } else {
      this.channelUp = false;
      this.connectionLost(status.toLowerCase());
      // The server ends the channel of a member it no longer has (kicked, banned, or removed
      // after a long silence): find out which at once.
      this.checkMembership();
    }
  }

  onChange(change) {
    const row = change.new || {};
    if (this.night.onChange(change)) return;
    if (change.table === 'rooms') this.takeRow(row);
    else if (change.table === 'comments' && this.comments.add(row, { missed: this.lost })) {
      if (this.lost) this.missed += 1;
    }
    else if (change.table === 'room_members') {
      if (change.eventType === 'DELETE') {
        const old = change.old || {};
        const gone = [...this.members.rows.values()].find((m) => m.id === old.id || m.user_id === old.user_id);
        if (gone) this.members.remove(gone.user_id);
        if (gone && gone.user_id === this.app.userId) this.checkMembership();
      } else this.members.upsert(row);
      this.updateRole();
    }
  }

  onPresence() {
    const state = this.channel.presenceState();
    this.members.setPresence(state);
    const host = this.row && state[this.row.host_user_id];
    const duration = host && host.length ? host[host.length - 1].duration : null;
    this.hostDuration = typeof duration === 'number' ? duration : null;
    this.checkDuration();
  }

  /** The room, members and comments again, after a (re)subscription or a drop. */
  async refetchSide() {
    try {
      const [list] = await Promise.all([call(this.app.supabase, 'members-get-list', { room_id: this.roomId }), this.sampleClock(1)]);
      this.takeRow(list.room);
      this.members.setRows(list.members);
      this.updateRole();
      const [missed] = await Promise.all([this.comments.load(this.row), this.night.load()]);
      return missed;
    } catch (err) {
      if (err.network) this.connectionLost('network');
      else this.view.notice(explain(err), 'error');
      return 0;
    }
  }

  connectionLost(why) {
    if (this.closed || this.lost) return;
    this.lost = true;
    this.missed = 0;
    this.view.banner('lost', 'Connection lost: reconnecting… The video goes on from the last known state.');
    void why;
  }

  async connectionBack() {
    if (!this.lost || this.closed || !navigator.onLine) return;
    this.lost = false;
    this.view.banner('restoring', 'Reconnected: catching up…');
    const missed = this.missed + (await this.refetchSide());
    this.engine.realign();
    if (this.lost) return;
    const what = missed ? ` ${missed} new comment${missed === 1 ? '' : 's'} while you were away.` : '';
    this.view.banner('back', `Back online: up to date.${what}`, 6000);
  }

  async reconnect() {
    // A fresh channel: the old socket may be dead without knowing it.
    if (this.closed) return;
    const old = this.channel;
    this.channel = null;
    if (old) await this.app.supabase.removeChannel(old).catch(() => {});
    if (this.closed) return;
    this.subscribe();
  }

  async heartbeat() {
    try {
      await call(this.app.supabase, 'members-update-status', {
        room_id: this.roomId,
        current_time: Math.max(0, this.player.position() || 0),
        is_buffering: this.player.isBuffering,
      });
    } catch (err) {
      if (err.code === 'WRM03') await this.rejoin();
      else if (err.network) this.connectionLost('network');
    }
  }

  /** Whether this viewer is still a member (a heartbeat), once at a time. */
  async checkMembership() {
    if (this.closed || this.checking) return;
    this.checking = true;
    try {
      await this.heartbeat();
    } finally {
      this.checking = false;
    }
  }

  /**
   * No longer a member: removed after a long silence (join again, catch up, and a fresh
   * channel, as the server ended the old one), or kicked or banned (WRB03: the page leaves the
   * room and says so).
   */
  async rejoin() {
    try {
      await this.join();
    } catch (err) {
      if (err.code === 'WRB03') await this.removed(err);
      else if (err.network) this.connectionLost('network');
      return;
    }
    await this.refetchSide();
    await this.reconnect();
  }

  async removed(err) {
    await this.close();
    this.view.removed(explain(err));
  }

  /** Presence: tracked when what the others see changes, never on a timer. */
  publishStatus(force = false) {
    if (!this.channel || !this.channelUp) return;
    const now = this.clock.now();
    const buffering = this.player.isBuffering;
    this.since.buffering = buffering ? (this.since.buffering ?? now) : null;
    const synced = this.engine.drift === null || this.engine.isSynced;
    this.since.unsynced = synced ? null : (this.since.unsynced ?? now);
    const shownBuffering = buffering && now - this.since.buffering >= BUFFERING_SHOWN_AFTER;
    const shownSynced = synced || now - this.since.unsynced < UNSYNCED_SHOWN_AFTER;
    if (!force && shownBuffering === this.shown.buffering && shownSynced === this.shown.synced) return;
    this.shown = { buffering: shownBuffering, synced: shownSynced };
    const duration = this.player.video.duration;
    this.channel
      .track({
        user_id: this.app.userId,
        username: this.app.username,
        host: this.isHost,
        buffering: shownBuffering,
        synced: shownSynced,
        duration: this.isHost && Number.isFinite(duration) ? duration : undefined,
      })
      .catch(() => {});
  }

  checkDuration() {
    const mine = this.player.video.duration;
    const differs = !this.isHost && this.hostDuration !== null && Number.isFinite(mine) && Math.abs(mine - this.hostDuration) > 1;
    this.view.durationWarning(differs ? { mine, host: this.hostDuration } : null);
    if (this.isHost) this.publishStatus(true);
  }

  renderLive() {
    if (!this.playback) return;
    const position = this.livePosition();
    if (this.canControl) this.controls.render();
    this.night.render(position, hasStarted(this.engine.room || this.playback, this.clock.serverNow()), this.canControl);
    const phase = this.engine.phase;
    const drift = this.engine.drift;
    const status = selfStatus(phase, drift, this.player.isBuffering);
    this.members.setSelf(status.kind, status.text, [Phase.IN_SYNC, Phase.CORRECTING].includes(phase) ? drift : null);
    this.view.syncLine(status.text, drift, position);
    this.publishStatus();
  }

  async leave() {
    try {
      await call(this.app.supabase, 'rooms-leave', { room_id: this.roomId });
    } catch (err) {
      this.view.notice(explain(err), 'error');
    }
    this.app.go('#/');
  }

  every(ms, fn) {
    this.timers.push(setInterval(fn, ms));
  }

  /** What a test or a benchmark reads: the real video element against the room. */
  probe() {
    const v = this.player.video;
    return {
      at: Date.now() / 1000,
      currentTime: v.currentTime,
      paused: v.paused,
      rate: v.playbackRate,
      buffering: this.player.isBuffering,
      seeking: v.seeking,
      phase: this.engine.phase,
      drift: this.engine.drift,
      counts: { ...this.engine.counts },
      speedLatency: this.engine.speedLatency.value,
      startLatency: this.player.startLatency,
      seekLatency: this.engine.state.seek_latency,
      reference: this.engine.reference.isReference,
      sinceRoomChange: this.clock.now() - this.engine.state.own_change_at,
      isHost: this.isHost,
      isCohost: this.isCohost,
      src: v.currentSrc,
      lost: this.lost,
    };
  }

  async close() {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.engine) this.engine.stop();
    if (this.night) this.night.close();
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    document.removeEventListener('keydown', this.onKey);
    if (this.player) this.player.pause();
    if (this.channel) await this.app.supabase.removeChannel(this.channel).catch(() => {});
    if (window.watchiumRoom === this) window.watchiumRoom = undefined;
  }
}

function selfStatus(phase, drift, buffering) {
  if (buffering || phase === Phase.BUFFERING) return { kind: 'buffering', text: 'buffering' };
  if (phase === Phase.WAITING) return { kind: 'waiting', text: 'loading' };
  if (phase === Phase.PAUSED) return { kind: 'in-sync', text: 'paused' };
  if (phase === Phase.STARTING) return { kind: 'in-sync', text: 'starting' };
  if (phase === Phase.SEEKING) return { kind: 'drift', text: 'catching up' };
  if (drift !== null && Math.abs(drift) > 2) return { kind: 'drift', text: 'drift' };
  return { kind: 'in-sync', text: 'in sync' };
}
