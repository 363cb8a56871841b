// The training dashboard: jobs refreshed every 2 s (/api/jobs); a job's loss
// and dev-CER curves drawn as its events arrive (/ws/jobs/ID), its
// checkpoints with a Publish button; the published models.
'use strict';

const $ = (id) => document.getElementById(id);
const pct = (v) => (v === undefined || v < 0 ? '—' : `${(100 * v).toFixed(2)}%`);
const when = (t) => (t ? new Date(t).toLocaleString() : '');
const duration = (s) => (s > 0 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : '');
let selected = null;  // {id, ws, loss: [[step, loss]], cer: [[step, cer%]]}

function cell(tr, content) {
  const td = tr.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = content;
  return td;
}

function stateBadge(state) {
  const s = document.createElement('span');
  s.className = `state ${state}`;
  s.textContent = state;
  return s;
}

async function refreshJobs() {
  try {
    const r = await asr.api('jobs');
    const body = $('jobs').tBodies[0];
    body.replaceChildren();
    for (const job of r.jobs || []) {
      const p = job.progress || {};
      const tr = body.insertRow();
      tr.className = 'job' + (selected && selected.id === job.id ? ' selected' : '');
      tr.dataset.job = job.id;
      tr.dataset.state = job.state;
      cell(tr, job.id);
      cell(tr, stateBadge(job.state));
      const bar = document.createElement('span');
      const step = asr.num(p.step), total = asr.num(p.total_steps);
      // Built, not written as HTML: the Content-Security-Policy allows no inline style.
      const track = document.createElement('span'), fill = document.createElement('div');
      track.className = 'bar';
      fill.style.width = `${total ? 100 * step / total : 0}%`;
      track.append(fill);
      bar.append(track);
      bar.append(`${step}/${total || '?'}`);
      cell(tr, bar);
      cell(tr, job.best ? pct(job.best.cer) : '—');
      cell(tr, job.state === 'RUNNING' ? duration(p.eta_seconds) : '');
      cell(tr, when(job.create_time));
      tr.onclick = () => openJob(job.id);
    }
    $('jobs-updated').textContent = `· updated ${new Date().toLocaleTimeString()}`;
    asr.showError('');
  } catch (e) {
    asr.showError(e.message);
  }
}

async function refreshModels() {
  try {
    const r = await asr.api('models');
    const body = $('models').tBodies[0];
    body.replaceChildren();
    for (const m of r.models || []) {
      const tr = body.insertRow();
      cell(tr, `${m.name}:${m.version}`);
      cell(tr, m.job_id || '');
      cell(tr, String(asr.num(m.step)));
      cell(tr, pct(m.dev_cer));
      cell(tr, pct(m.dev_wer));
      cell(tr, m.streaming ? 'yes' : 'no');
      cell(tr, when(m.create_time));
    }
  } catch (e) {
    asr.showError(e.message);
  }
}

async function refreshCheckpoints(id) {
  const r = await asr.api(`jobs/${encodeURIComponent(id)}/checkpoints`).catch((e) => (asr.showError(e.message), {}));
  const body = $('checkpoints').tBodies[0];
  body.replaceChildren();
  for (const c of r.checkpoints || []) {
    const tr = body.insertRow();
    cell(tr, String(asr.num(c.step)) + (c.is_best ? ' ★' : ''));
    cell(tr, String(asr.num(c.epoch)));
    cell(tr, pct(c.dev_cer));
    cell(tr, pct(c.dev_wer));
    cell(tr, `${(asr.num(c.size_bytes) / 1e6).toFixed(1)} MB`);
    const button = document.createElement('button');
    button.textContent = 'Publish';
    button.className = 'publish';
    button.onclick = () => publish(id, asr.num(c.step));
    cell(tr, button);
  }
}

async function publish(id, step) {
  try {
    const v = await asr.api(`jobs/${encodeURIComponent(id)}/publish`, {name: $('publish-name').value.trim(), step});
    $('publish-result').textContent = `published ${v.name}:${v.version} (step ${v.step})`;
    refreshModels();
  } catch (e) {
    $('publish-result').textContent = '';
    asr.showError(e.message);
  }
}

function drawCharts() {
  chart.draw($('loss-chart'), selected.loss, {title: 'training loss'});
  chart.draw($('cer-chart'), selected.cer, {title: 'dev CER', unit: '%', yMin: 1, yMax: 100});
}

function openJob(id) {
  if (selected && selected.ws) selected.ws.close();
  selected = {id, ws: null, loss: [], cer: []};
  $('job').hidden = false;
  $('job-id').textContent = id;
  $('job-state').textContent = '';
  $('job-detail').textContent = '';
  document.querySelectorAll('tr.job').forEach((tr) => tr.classList.toggle('selected', tr.dataset.job === id));
  drawCharts();
  refreshCheckpoints(id);
  const me = selected;
  const ws = new WebSocket(asr.socketUrl(`/ws/jobs/${encodeURIComponent(id)}`));
  me.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({token: asr.token(), after_sequence: 0}));
  ws.onmessage = (m) => {
    if (selected !== me) return;
    const msg = JSON.parse(m.data);
    const e = msg.event;
    if (msg.status && msg.status.code !== 'OK' && msg.status.code !== 'CANCELLED') {
      asr.showError(`${msg.status.code}: ${msg.status.message}`);
    }
    if (!e) return;
    if (e.state) {
      $('job-state').className = `state ${e.state}`;
      $('job-state').textContent = e.state;
      if (e.state !== 'RUNNING' && e.state !== 'QUEUED') refreshCheckpoints(id);
    }
    if (e.progress) {
      const p = e.progress;
      if (p.loss !== undefined) me.loss.push([asr.num(p.step), p.loss]);
      $('job-detail').textContent = `step ${asr.num(p.step)}/${asr.num(p.total_steps)} · ` +
          `lr ${(p.learning_rate || 0).toExponential(2)} · ${Math.round(p.frames_per_second || 0)} frames/s` +
          (p.eta_seconds > 0 ? ` · ETA ${duration(p.eta_seconds)}` : '');
    }
    if (e.validation) me.cer.push([asr.num(e.validation.step), 100 * (e.validation.cer || 0)]);
    if (e.checkpoint_saved) refreshCheckpoints(id);
    if (e.error) asr.showError(`job ${id}: ${e.error}`);
    drawCharts();
  };
}

asr.bindToken($('token'));
$('token').addEventListener('change', () => { refreshJobs(); refreshModels(); });
refreshJobs();
refreshModels();
setInterval(refreshJobs, 2000);
setInterval(refreshModels, 10000);
