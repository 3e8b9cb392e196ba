// The one way the screens talk to the daemon: JSON in, JSON out, and every failure turned into
// an ApiError whose message is the daemon's `detail` text (or its 422 list as field messages).

export class ApiError extends Error {
  constructor(status, message, fields) {
    super(message);
    this.status = status;
    this.fields = fields || {};
  }
}

function describe(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    const fields = {};
    for (const item of detail) {
      const loc = (item.loc || []).filter((p) => p !== 'body');
      fields[loc.length ? loc.join('.') : 'body'] = item.msg || 'Invalid value';
    }
    return new ApiError(status, Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; '), fields);
  }
  if (typeof detail === 'string') return new ApiError(status, detail);
  return new ApiError(status, `The daemon answered ${status}.`);
}

export async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'The daemon cannot be reached. Is it running?');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) throw describe(response.status, data);
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const del = (path) => request('DELETE', path);
export const personaPath = (id, rest = '') => `/api/persona/${encodeURIComponent(id)}${rest}`;

/**
 * A socket that reconnects by itself (after her restart or the daemon's) with a growing pause,
 * and hands each parsed frame to `onFrame`. `close()` ends it for good.
 */
export function live(path, onFrame, onState = () => {}) {
  let socket = null;
  let closed = false;
  let wait = 500;
  let timer = null;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
    socket = new WebSocket(url);
    socket.onopen = () => {
      wait = 500;
      onState(true);
    };
    socket.onmessage = (e) => {
      try {
        onFrame(JSON.parse(e.data));
      } catch {
        /* a frame we cannot read is skipped */
      }
    };
    socket.onclose = () => {
      onState(false);
      if (closed) return;
      timer = setTimeout(open, wait);
      wait = Math.min(wait * 2, 8000);
    };
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
