// The host's viewer analytics (rooms-stats, docs/COMMENTS.md "Analytics"): the figures in plain
// words and a chart of viewers and comments per minute, drawn here as inline SVG (no library).
// Only the host sees the button; a refusal (WRH03) says that only the host can see them.
import { call, explain } from './api.js';
import { h, fill } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const COLUMNS = 60; // at most this many bars: longer sessions fold minutes together, as the CLI
const MIN_COLUMNS = 20; // a short session's few bars keep a bar's width, from the left
const BAND = 50; // height of each series in the chart's own units
const GAP = 12;

export class StatsPanel {
  constructor(app, { roomId }) {
    this.app = app;
    this.roomId = roomId;
    this.loading = false;
    this.button = h('button', { type: 'button', hidden: true, 'aria-expanded': 'false', 'aria-controls': 'stats-panel', onclick: () => this.toggle() }, 'Stats');
    this.status = h('p.muted', { role: 'status', 'aria-live': 'polite' });
    this.body = h('div.stats-body');
    this.refreshButton = h('button', { type: 'button', onclick: () => this.refresh() }, 'Refresh');
    this.element = h(
      'section.card.stats',
      { id: 'stats-panel', 'aria-labelledby': 'stats-title', hidden: true },
      h('div.stats-head', {}, h('h2', { id: 'stats-title' }, 'Viewer stats'), h('div.head-actions', {}, this.refreshButton, h('button', { type: 'button', onclick: () => this.close() }, 'Close'))),
      this.status,
      this.body,
    );
  }

  /** The button is the host's only; a member's page never shows it. */
  setHost(isHost) {
    this.button.hidden = !isHost;
    if (!isHost && !this.element.hidden) this.close();
  }

  toggle() {
    if (this.element.hidden) this.open();
    else this.close();
  }

  open() {
    this.element.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.refresh();
  }

  close() {
    this.element.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
  }

  async refresh() {
    if (this.loading) return;
    this.loading = true;
    this.refreshButton.disabled = true;
    fill(this.status, 'Loading the stats…');
    try {
      const stats = await call(this.app.supabase, 'rooms-stats', { room_id: this.roomId });
      fill(this.body, figures(stats), chart(stats.timeline || []));
      fill(this.status, `Updated at ${timeText(new Date())}.`);
    } catch (err) {
      if (!err.network) fill(this.body); // offline: the last figures stay, the status says why they are old
      fill(this.status, refusal(err));
    } finally {
      this.loading = false;
      this.refreshButton.disabled = false;
    }
  }
}

function refusal(err) {
  if (err.code === 'WRH03') return 'Only the host can see this room\'s stats.';
  if (err.network) return 'Cannot reach the server: check your connection, then Refresh.';
  return explain(err);
}

/** The figures as a description list, each in words. */
function figures(s) {
  const rows = [
    ['Session', s.started_at ? `${timeText(s.started_at)} to ${timeText(s.ended_at)} (${lengthText(s.duration_seconds)})` : 'nobody has watched yet'],
    ['Watching now', String(s.viewers_now)],
    ['Unique viewers', s.stays > s.unique_viewers ? `${s.unique_viewers} (${s.stays} visits: some came back)` : String(s.unique_viewers)],
    ['Average viewers', `${round(s.average_viewers, 1)} at once`],
    ['Peak viewers', s.peak_at ? `${s.peak_viewers} at once, first at ${timeText(s.peak_at)}` : String(s.peak_viewers)],
    ['Retention', s.retention === null ? 'not known yet' : `${percent(s.retention)} still there in the last minute`],
    ['Bounce rate', s.bounce_rate === null ? 'not known yet' : `${percent(s.bounce_rate)} left within a minute`],
    ['Comments', s.duration_seconds >= 60 ? `${s.comments} (${round(s.comments_per_minute, 2)} per minute)` : `${s.comments} (in under a minute)`],
    ['Busiest minute', s.busiest_minute ? `${timeText(s.busiest_minute)}, ${plural(s.busiest_minute_comments, 'comment')}` : 'no comments yet'],
    ['In sync', s.in_sync_share === null ? 'no heartbeats yet' : `${percent(s.in_sync_share)} of ${plural(s.sync_samples, 'heartbeat')}`],
    ['Median drift', s.median_drift === null ? 'not known yet' : `${Math.round(s.median_drift * 1000)} ms from the host`],
  ];
  return h('dl.stats-figures', {}, rows.map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', {}, value))));
}

/** The timeline folded to at most COLUMNS columns: viewers (the most of the minutes in a
 * column), comments (their sum), and the minutes per column. */
function buckets(timeline, width = COLUMNS) {
  const per = Math.max(1, Math.ceil(timeline.length / width));
  const columns = [];
  for (let i = 0; i < timeline.length; i += per) {
    const chunk = timeline.slice(i, i + per);
    columns.push({
      minute: chunk[0].minute,
      viewers: Math.max(...chunk.map((m) => m.viewers)),
      comments: chunk.reduce((sum, m) => sum + m.comments, 0),
    });
  }
  return { columns, per };
}

/** Viewers (top) and comments (bottom) per minute as bars, with a summary in words. */
function chart(timeline) {
  const title = h('h3', { id: 'stats-chart-title' }, 'Viewers and comments per minute');
  if (!timeline.length) return h('figure.stats-chart', {}, title, h('p.muted', {}, 'Nothing to draw yet.'));
  const { columns, per } = buckets(timeline);
  const maxViewers = Math.max(...columns.map((c) => c.viewers));
  const maxComments = Math.max(...columns.map((c) => c.comments));
  const totalComments = columns.reduce((sum, c) => sum + c.comments, 0);
  const start = timeText(timeline[0].minute);
  const end = timeText(timeline[timeline.length - 1].minute);
  const span = per === 1 ? 'one bar a minute' : `one bar per ${per} minutes`;
  const summary =
    `Chart from ${start} to ${end}, ${span}: at most ${plural(maxViewers, 'viewer')} at once, ` +
    `${plural(totalComments, 'comment')} in all, at most ${maxComments} in one ${per === 1 ? 'minute' : 'bar'}.`;
  const slots = Math.max(columns.length, MIN_COLUMNS);
  const height = 2 * BAND + GAP;
  const svg = svgEl('svg', { viewBox: `0 0 ${slots * 10} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': summary, class: 'stats-svg' });
  const band = (top, key, most, cls, noun) => {
    svg.append(svgEl('rect', { x: 0, y: top + BAND - 0.5, width: slots * 10, height: 0.5, class: 'stats-axis' }));
    columns.forEach((c, i) => {
      const value = c[key];
      if (!value) return;
      const tall = Math.max(2, (value / most) * BAND);
      const bar = svgEl('rect', { x: i * 10 + 1.5, y: top + BAND - tall, width: 7, height: tall, class: cls });
      const tip = svgEl('title');
      tip.append(document.createTextNode(`${timeText(c.minute)}: ${plural(value, noun)}`));
      bar.append(tip);
      svg.append(bar);
    });
  };
  band(0, 'viewers', maxViewers || 1, 'bar-viewers', 'viewer');
  band(BAND + GAP, 'comments', maxComments || 1, 'bar-comments', 'comment');
  return h(
    'figure.stats-chart',
    { 'aria-labelledby': 'stats-chart-title' },
    title,
    svg,
    h(
      'figcaption.muted',
      {},
      h('span.key.viewers', {}, `Viewers (top, most ${maxViewers})`),
      ' · ',
      h('span.key.comments', {}, `comments (bottom, most ${maxComments})`),
      h('br'),
      `${start} to ${end}, ${span}.`,
    ),
  );
}

function svgEl(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

function timeText(value) {
  if (!value) return '–';
  return new Date(value).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function lengthText(seconds) {
  if (seconds < 60) return `${Math.round(seconds)}\u00a0s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes}\u00a0min` : `${Math.floor(minutes / 60)}\u00a0h ${minutes % 60}\u00a0min`;
}

function percent(share) {
  return `${Math.round(share * 100)}%`;
}

function round(value, digits) {
  return String(Number(Number(value).toFixed(digits)));
}

function plural(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
