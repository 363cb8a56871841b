// Shared by both pages: the bearer token (kept in this browser's
// localStorage), JSON calls to the gateway's /api, WebSocket URLs, errors.
'use strict';

const asr = {
  token() { return localStorage.getItem('asr-token') || ''; },

  bindToken(input) {
    input.value = asr.token();
    input.addEventListener('change', () => localStorage.setItem('asr-token', input.value.trim()));
  },

  // GET or POST /api/...; resolves to the parsed JSON, rejects with an Error
  // whose message is "CODE: message" (the gateway's gRPC status) or says
  // the gateway cannot be reached.
  async api(path, body) {
    const init = {headers: {}};
    if (asr.token()) init.headers.Authorization = 'Bearer ' + asr.token();
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch('/api/' + path, init);
    } catch (e) {
      throw new Error('UNAVAILABLE: cannot reach asr-web at ' + location.host);
    }
    const text = await res.text();
    let json = {};
    try { json = text ? JSON.parse(text) : {}; } catch (e) { /* not JSON: reported below */ }
    if (!res.ok) {
      const hint = json.code === 'UNAUTHENTICATED' ? ' (set the token above)' : '';
      throw new Error((json.code || res.status) + ': ' + (json.message || text) + hint);
    }
    return json;
  },

  socketUrl(path) {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
  },

  // Proto3 JSON durations ("1.320s") and int64s ("42") -> numbers.
  seconds(d) { return d ? parseFloat(d) : 0; },
  num(v) { return v === undefined ? 0 : Number(v); },

  showError(message) {
    const box = document.getElementById('error');
    box.textContent = message;
    box.hidden = !message;
  },
};
