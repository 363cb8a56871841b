// The live transcription page: microphone (getUserMedia -> AudioWorklet ->
// 16 kHz LINEAR16) or a dropped file (decoded and resampled to 16 kHz by
// the browser), streamed over /ws/recognize; interim text in place, finals
// appended with per-word times on hover.
'use strict';

const $ = (id) => document.getElementById(id);
let session = null;  // {ws, stop()} while a stream runs
// With ?trace in the URL, window.asrTrace records when each audio chunk was
// sent ({sent: audio seconds sent so far, t: ms}) and each response arrived
// ({processed: its processed_audio_seconds, t}), performance.now() times:
// what scripts/bench-web-latency.py measures the page's latency from.
const trace = new URLSearchParams(location.search).has('trace') ? (window.asrTrace = []) : null;
let sentSeconds = 0;

// Sends one LINEAR16 chunk (16 kHz) and notes it in the trace.
function sendAudio(ws, buffer) {
  ws.send(buffer);
  sentSeconds += buffer.byteLength / 32000;
  if (trace) trace.push({sent: sentSeconds, t: performance.now()});
}

async function loadModels() {
  try {
    const r = await asr.api('models');
    const models = r.models || [];
    const names = [...new Set(models.map((m) => m.name))];
    $('model').replaceChildren(...names.map((n) => new Option(n, n)));
    const versions = () => {
      const vs = models.filter((m) => m.name === $('model').value).map((m) => asr.num(m.version));
      $('version').replaceChildren(new Option('latest', '0'), ...vs.map((v) => new Option(String(v), String(v))));
    };
    $('model').onchange = versions;
    versions();
    if (!names.length) asr.showError('No model is published yet: publish one on the Training page.');
    else asr.showError('');
  } catch (e) {
    asr.showError(e.message);
  }
}

function wordSpan(w) {
  const s = document.createElement('span');
  s.className = 'word';
  s.textContent = w.word;
  const a = asr.seconds(w.start_time).toFixed(2), b = asr.seconds(w.end_time).toFixed(2);
  s.title = `${a}–${b} s · confidence ${(w.confidence || 0).toFixed(2)}`;
  return s;
}

function showResponse(resp) {
  for (const r of resp.results || []) {
    const alt = (r.alternatives || [])[0] || {transcript: ''};
    if (!r.is_final) {
      $('interim').textContent = alt.transcript;
      continue;
    }
    $('interim').textContent = '';
    if (!alt.transcript) continue;
    const p = document.createElement('p');
    p.className = 'final';
    p.dataset.transcript = alt.transcript;
    const words = alt.words || [];
    if (words.length) {
      words.forEach((w, i) => { if (i) p.append(' '); p.append(wordSpan(w)); });
    } else {
      p.textContent = alt.transcript;
    }
    $('transcript').insertBefore(p, $('interim'));
  }
  if (resp.model) $('status').textContent = `${resp.model} · ${(resp.processed_audio_seconds || 0).toFixed(1)} s`;
}

// Opens /ws/recognize and sends the config; resolves to the socket once open.
function openStream(onEnd) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(asr.socketUrl('/ws/recognize'));
    ws.binaryType = 'arraybuffer';
    let status = null;
    ws.onopen = () => {
      sentSeconds = 0;
      ws.send(JSON.stringify({
        token: asr.token(),
        config: {
          model: $('model').value, model_version: Number($('version').value), encoding: 'LINEAR16',
          sample_rate_hertz: 16000, interim_results: true, enable_word_time_offsets: true,
        },
      }));
      resolve(ws);
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (trace && msg.response) trace.push({processed: msg.response.processed_audio_seconds || 0, t: performance.now()});
      if (msg.response) showResponse(msg.response);
      if (msg.status) {
        status = msg.status;
        if (status.code !== 'OK') asr.showError(`${status.code}: ${status.message}`);
      }
    };
    ws.onerror = () => reject(new Error('UNAVAILABLE: cannot reach asr-web at ' + location.host));
    ws.onclose = () => {
      if (!status) asr.showError('UNAVAILABLE: the connection to asr-web closed before the stream ended');
      onEnd(status);
    };
  });
}

function toInt16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768)));
  return out;
}

function setRunning(running) {
  $('start').disabled = running;
  $('stop').disabled = !running;
  $('file').disabled = running;
}

async function startMicrophone() {
  asr.showError('');
  let media;
  try {
    media = await navigator.mediaDevices.getUserMedia(
        {audio: {channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
  } catch (e) {
    asr.showError(e.name === 'NotAllowedError' ?
        'Microphone permission denied: allow this page to use the microphone and try again.' :
        `Microphone unavailable: ${e.message || e.name}`);
    return;
  }
  setRunning(true);
  // A 16 kHz context lets the browser resample the microphone itself (the
  // worklet then passes samples through); where the browser cannot connect
  // a microphone of another rate to it, the worklet resamples.
  let ctx = new AudioContext({sampleRate: 16000});
  let source;
  try {
    source = ctx.createMediaStreamSource(media);
  } catch (e) {
    ctx.close();
    ctx = new AudioContext();
    source = ctx.createMediaStreamSource(media);
  }
  const finish = () => {
    media.getTracks().forEach((t) => t.stop());
    ctx.close();
    setRunning(false);
    $('level').style.width = '0';
    session = null;
  };
  // The microphone is captured from here on: chunks wait in `pending`
  // until the socket is open, so the first words are not lost.
  await ctx.audioWorklet.addModule('pcm-worklet.js');
  const node = new AudioWorkletNode(ctx, 'pcm16k');
  let ws = null;
  const pending = [];
  node.port.onmessage = (e) => {
    if (e.data === 'flushed') {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({type: 'end'}));
      return;
    }
    const pcm = new Int16Array(e.data);
    let peak = 0;
    for (const v of pcm) peak = Math.max(peak, Math.abs(v));
    $('level').style.width = `${Math.min(100, 100 * peak / 16384)}%`;
    if (!pcm.length) return;
    if (!ws) pending.push(e.data);
    else if (ws.readyState === WebSocket.OPEN) sendAudio(ws, e.data);
  };
  source.connect(node);
  node.connect(ctx.destination);  // keeps the graph pulling; the node outputs silence
  try {
    const open = await openStream(finish);
    for (const chunk of pending.splice(0)) sendAudio(open, chunk);
    ws = open;
  } catch (e) {
    asr.showError(e.message);
    finish();
    return;
  }
  session = {ws, stop: () => node.port.postMessage('flush')};
}

async function transcribeFile(file) {
  asr.showError('');
  let pcm;
  try {
    // Decoded straight to 16 kHz mono (a 16 kHz file keeps its samples).
    const decoder = new OfflineAudioContext(1, 1, 16000);
    const decoded = await decoder.decodeAudioData(await file.arrayBuffer());
    const render = new OfflineAudioContext(1, Math.max(1, Math.ceil(decoded.duration * 16000)), 16000);
    const src = render.createBufferSource();
    src.buffer = decoded;
    src.connect(render.destination);
    src.start();
    pcm = toInt16((await render.startRendering()).getChannelData(0));
  } catch (e) {
    asr.showError(`${file.name}: this browser cannot decode it (${e.message || e.name})`);
    return;
  }
  setRunning(true);
  try {
    const ws = await openStream(() => setRunning(false));
    for (let i = 0; i < pcm.length; i += 3200) sendAudio(ws, pcm.slice(i, i + 3200).buffer);
    ws.send(JSON.stringify({type: 'end'}));
  } catch (e) {
    asr.showError(e.message);
    setRunning(false);
  }
}

asr.bindToken($('token'));
$('token').addEventListener('change', loadModels);
$('start').onclick = startMicrophone;
$('stop').onclick = () => session && session.stop();
$('file').onchange = () => $('file').files[0] && transcribeFile($('file').files[0]);
const drop = $('drop');
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) transcribeFile(e.dataTransfer.files[0]);
};
loadModels();
