// Calls to the project's functions through supabase-js, and refusals turned into sentences
// that say what to do (the codes are docs/ERRORS.md's).

export class ApiError extends Error {
  constructor({ code, message, hint, details, status, network = false }) {
    super(message);
    this.code = code;
    this.hint = hint || '';
    this.details = details || {};
    this.status = status || 0;
    this.network = network;
  }

  get retryAfter() {
    const value = Number(this.details.retry_after);
    return Number.isFinite(value) ? value : null;
  }
}

/** What the page shows for a refusal: our own advice for the codes a user can act on. */
export function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  if (err.network) return 'Cannot reach the server: check your connection. Retrying by itself.';
  const wait = err.retryAfter !== null ? ` Try again in ${Math.ceil(err.retryAfter)} s.` : '';
  switch (err.code) {
    case 'WRK03':
      return 'That access key is not right: ask the host for the 6-digit key, or for the share link.';
    case 'WRL29':
      return `Too many wrong access keys: key checks are paused.${wait}`;
    case 'WR404':
      return 'No such room, or its access key is not right: it may have ended; a private room needs the 6-digit key or the share link from its host.';
    case 'WRF09':
      return 'This room is full.';
    case 'WRH03':
      return `Not allowed: ${err.message || 'only the host or a co-host can do that'}.`;
    case 'WRB03':
      if (err.details.kind === 'kick') {
        const again = err.retryAfter !== null ? ` You may join again in ${Math.ceil(err.retryAfter / 60)} min.` : '';
        return `You were removed from this room by its host or a co-host.${again}`;
      }
      return 'You are banned from this room: only its host or a co-host can lift the ban.';
    case 'WRS03':
      return 'You are muted in this room: the host or a co-host can unmute you.';
    case 'WRM03':
      return 'You are not in this room any more: rejoining.';
    case 'WR413':
      return 'That comment is too long: 1000 characters at most.';
    case 'WR429':
      return `Slow down: ${err.message}.${wait}`;
    case 'WH503':
      return 'The server is busy or restarting: retrying shortly.';
    default: {
      const hint = err.hint ? ` (${err.hint})` : '';
      return `${err.message}${hint}`;
    }
  }
}

/**
 * POST /functions/v1/<name>. Resolves to the answer's `data` (with the envelope's server_time
 * as `_serverTime`); rejects with an ApiError.
 */
export async function call(supabase, name, body = {}) {
  let result;
  try {
    result = await supabase.functions.invoke(name, { body });
  } catch (exc) {
    throw new ApiError({ code: 'network', message: String(exc), network: true });
  }
  const { data, error } = result;
  if (!error) return data && data.data !== undefined ? { ...data.data, _serverTime: data.server_time } : data;
  const response = error.context;
  if (response && typeof response.json === 'function' && typeof response.status === 'number') {
    let body2 = null;
    try {
      body2 = await response.clone().json();
    } catch {
      /* not JSON: below */
    }
    const e = body2 && body2.error;
    if (e && typeof e === 'object') {
      const retry = response.headers && response.headers.get('retry-after');
      const details = { ...(e.details || {}) };
      if (details.retry_after === undefined && retry) details.retry_after = Number(retry);
      throw new ApiError({ code: e.code, message: e.message, hint: e.hint, details, status: response.status });
    }
    throw new ApiError({ code: `HTTP${response.status}`, message: `the server answered ${response.status}`, status: response.status });
  }
  // FunctionsFetchError / FunctionsRelayError: the request did not get an answer.
  throw new ApiError({ code: 'network', message: error.message || 'network error', network: true });
}
