// The organ configurator, shared by onboarding, restore and settings: a provider tile row
// (local or a cloud provider, its URL prefilled from the daemon), the model, and a key field
// that never shows a stored key — only whether one is set.

import { h, field, toast } from './dom.js';
import { post } from './api.js';

export const ORGANS = [
  ['thinking', 'Mind', 'How she thinks and talks. Required.'],
  ['imagination', 'Imagination', 'Draws pictures when she wants to show something.'],
  ['mouth', 'Voice', 'Speaks her replies aloud.'],
  ['eye', 'Eye', 'Sees the images you send her.'],
  ['ear', 'Ear', 'Hears your voice notes.'],
  ['teacher', 'Teacher', 'A stronger model she learns from while she sleeps.'],
  ['researcher', 'Researcher', 'Looks things up for her.'],
];

export const PROVIDERS = [
  ['local', 'Local', 'A model on this machine (Ollama).'],
  ['anthropic', 'Anthropic', 'Claude models.'],
  ['openai', 'OpenAI', 'GPT models.'],
  ['xai', 'xAI', 'Grok models.'],
  ['gemini', 'Gemini', 'Google models.'],
];

let providerUrls = null;
export async function loadProviders() {
  if (!providerUrls) {
    try {
      const { get } = await import('./api.js');
      providerUrls = await get('/api/config/providers');
    } catch {
      providerUrls = {};
    }
  }
  return providerUrls;
}

/**
 * One organ's editor. `names(key)` gives each input's form name (so a 422 lands next to it);
 * `current` is her organ view (name, provider, url) or null. `optional` adds "not set".
 * Returns {el, value()}; value() is null when the organ is left empty.
 */
export function configurator(slot, { names, current = null, optional = false, urls = {} }) {
  const group = 'p-' + slot + '-' + Math.random().toString(36).slice(2, 7);
  const initial = current ? current.provider || 'local' : optional ? '' : 'local';
  const model = h('input', { name: names('model'), value: current?.name || '', autocomplete: 'off',
    placeholder: 'e.g. llama3.2:1b', spellcheck: false });
  const url = h('input', { name: names('url'), value: current?.url || '', autocomplete: 'off', spellcheck: false });
  const key = h('input', { name: names('api_key'), type: 'password', autocomplete: 'off',
    placeholder: current && current.provider ? 'set — leave empty to keep it' : 'paste the key' });
  const pull = h('button.ghost', { type: 'button', onclick: () => pullModel(model.value.trim()) }, 'Download this model');
  const details = h('div.organ-details',
    field('Model', model),
    field('Address', url, 'Where the provider answers. Prefilled; change it only for a proxy.'),
    h('div.keyrow', field('API key', key, 'Stored on this machine only, never shown again.')),
    h('div.pullrow', pull));
  const tiles = h('div.tiles', { role: 'radiogroup', 'aria-label': 'Provider' });
  const choices = (optional ? [['', 'Not set', 'She goes without it.']] : []).concat(PROVIDERS);
  const set = (provider, touched) => {
    for (const t of tiles.querySelectorAll('input')) t.checked = t.value === provider;
    details.hidden = provider === '';
    details.querySelector('.keyrow').hidden = provider === 'local';
    details.querySelector('.pullrow').hidden = provider !== 'local';
    model.placeholder = { local: 'e.g. llama3.2:1b', anthropic: 'e.g. claude-sonnet-4-6', openai: 'e.g. gpt-5.4',
      xai: 'e.g. grok-4', gemini: 'e.g. gemini-2.5-pro' }[provider] || '';
    if (touched) url.value = urls[provider]?.url || '';
  };
  for (const [value, label, hint] of choices) {
    const input = h('input', { type: 'radio', name: group, value, onchange: () => set(value, true) });
    tiles.append(h('label.tile', input, h('strong', label), h('small', hint)));
  }
  set(initial, !current);
  const el = h('div.organ', { dataset: { organ: slot } }, tiles, details);
  return {
    el,
    value() {
      const provider = tiles.querySelector('input:checked')?.value ?? '';
      if (provider === '') return null;
      const out = { model: model.value.trim() };
      if (provider !== 'local') out.provider = provider;
      if (url.value.trim()) out.url = url.value.trim();
      if (provider !== 'local' && key.value) out.api_key = key.value;
      return out;
    },
  };
}

/** Asks the daemon to download a local model; progress arrives on the system socket. */
export async function pullModel(name) {
  if (!name) {
    toast('Type the model name first.', 'error');
    return;
  }
  try {
    const reply = await post('/api/models/pull', { name });
    showPull({ name: reply.name || name, status: 'downloading', completed: 0, total: null, percent: null });
    toast(`Downloading ${name}…`);
  } catch (e) {
    toast(e.message, 'error');
  }
}

/** Draws (or updates) the progress bar of one model download from a ModelPull frame. */
export function showPull(d) {
  const box = document.getElementById('pulls');
  const id = 'pull-' + d.name.replace(/[^a-z0-9]/gi, '_');
  let row = document.getElementById(id);
  if (!row) {
    row = h('div.pull', { id }, h('span.pull-name'), h('progress', { max: 100 }), h('span.pull-figure'));
    box.append(row);
  }
  const bar = row.querySelector('progress');
  if (d.percent === null || d.percent === undefined) bar.removeAttribute('value');
  else bar.value = d.percent;
  const mb = (n) => (n / 1e6).toFixed(1) + ' MB';
  const figure = d.status === 'failed' ? `failed: ${d.error || ''}`
    : d.status === 'done' ? 'ready'
    : `${d.status} ${mb(d.completed || 0)}${d.total ? ' of ' + mb(d.total) : ''}${d.percent != null ? ` (${Math.round(d.percent)}%)` : ''}`;
  row.querySelector('.pull-name').textContent = d.name;
  row.querySelector('.pull-figure').textContent = figure;
  row.classList.toggle('failed', d.status === 'failed');
  if (d.status === 'done' || d.status === 'failed') {
    toast(d.status === 'done' ? `${d.name} is downloaded.` : `${d.name} could not be downloaded: ${d.error || ''}`,
      d.status === 'done' ? 'ok' : 'error');
    setTimeout(() => row.remove(), 6000);
  }
}
