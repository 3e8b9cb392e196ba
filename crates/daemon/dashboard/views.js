// The read-only screens: her schedule (a month grid), memory and instructions (rendered), and
// her status (diagnose, an uptime grid, her recent signals, and her identity regulation).

import { h, clear, toast, when } from './dom.js';
import { get, personaPath } from './api.js';
import { markdown } from './markdown.js';
import { regulationChart } from './chart.js';

const pad = (n) => String(n).padStart(2, '0');
const iso = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;

export async function calendar(main, persona, month = new Date()) {
  const first = new Date(month.getFullYear(), month.getMonth(), 1);
  const next = new Date(month.getFullYear(), month.getMonth() + 1, 1);
  const title = first.toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
  const grid = h('div.month', { role: 'grid', 'aria-label': title });
  const nav = (delta) => h('button', { type: 'button', 'aria-label': delta < 0 ? 'Previous month' : 'Next month',
    onclick: () => calendar(main, persona, new Date(first.getFullYear(), first.getMonth() + delta, 1)) }, delta < 0 ? '‹' : '›');
  clear(main, h('section.calendar', h('header.row', h('h1', `${persona.name}'s schedule`), nav(-1), h('h2', title), nav(1)), grid,
    h('p.hint', 'Her plans and reminders ahead, and what happened before.')));
  let data;
  try {
    data = await get(personaPath(persona.id, `/calendar?start=${iso(first)}&end=${iso(next)}`));
  } catch (e) {
    toast(e.message, 'error');
    return;
  }
  const byDay = {};
  for (const [part, groups] of Object.entries({ history: data.history, destiny: data.destiny })) {
    for (const [kind, items] of Object.entries(groups || {})) {
      for (const item of items || []) {
        const at = String(item.time || item.trigger || item.date || '').slice(0, 10);
        (byDay[at] ||= []).push({ part, kind, item });
      }
    }
  }
  for (const d of ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']) grid.append(h('div.dow', d));
  for (let i = 0; i < (first.getDay() + 6) % 7; i++) grid.append(h('div.day.blank'));
  for (let d = new Date(first); d < next; d.setDate(d.getDate() + 1)) {
    const key = iso(d);
    const entries = byDay[key] || [];
    grid.append(h('div.day' + (key === iso(new Date()) ? '.today' : ''), h('span.num', d.getDate()),
      entries.slice(0, 4).map(({ part, kind, item }) => h(`div.entry.${part}`, { title: String(item.body || item.content || kind) },
        String(item.time || '').slice(11, 16), ' ', String(item.body || item.content || kind).slice(0, 60))),
      entries.length > 4 ? h('div.more-entries', `+${entries.length - 4} more`) : null));
  }
}

export async function memory(main, persona) {
  const box = h('div');
  clear(main, h('section.memory', h('h1', `What ${persona.name} remembers`), box));
  try {
    const k = await get(personaPath(persona.id, '/knowledge'));
    const entries = Object.entries(k.memory || {});
    if (!entries.length) box.append(h('p.muted', 'Nothing yet: she writes her memory while she sleeps.'));
    for (const [key, body] of entries) box.append(h('article.card', h('h2', key.replace(/[_-]/g, ' ')), h('div.md', markdown(body))));
  } catch (e) {
    toast(e.message, 'error');
  }
}

export async function instructions(main, persona) {
  const box = h('div');
  clear(main, h('section.instructions', h('h1', `${persona.name}'s instructions`),
    h('p.hint', 'What she has learned to do when something happens: each one an intention and how she carries it out.'), box));
  try {
    const k = await get(personaPath(persona.id, '/knowledge'));
    const list = k.instruction || [];
    if (!list.length) box.append(h('p.muted', 'No instructions yet.'));
    for (const i of list) box.append(h('article.card', h('h2', String(i.intention || '')), h('div.md', markdown(i.body)), i.source ? h('small.hint', `from ${i.source}`) : null));
  } catch (e) {
    toast(e.message, 'error');
  }
}

export async function status(main, persona, signals) {
  const box = h('div.status-grid');
  clear(main, h('section.status', h('h1', `${persona.name}'s health`), box));
  let d;
  try {
    d = await get(personaPath(persona.id, '/diagnose'));
  } catch (e) {
    toast(e.message, 'error');
    return;
  }
  const life = persona.life;
  box.append(h('article.card', h('h2', 'Now'), h('dl',
    h('dt', 'Status'), h('dd', `${d.status}${persona.running ? ', running' : ', not running'}`),
    life ? [h('dt', 'Phase'), h('dd', String(life.phase)), h('dt', 'Beats'), h('dd', String(life.beats)),
      h('dt', 'Faults in a row'), h('dd', String(life.faults_in_a_row))] : null,
    persona.sickness ? [h('dt', 'Sick because'), h('dd', persona.sickness)] : null,
    h('dt', 'Messages in mind'), h('dd', String((d.mind?.messages || []).length)))));
  box.append(regulation(persona));
  const rows = d.uptime?.rows || [];
  const grid = h('div.uptime', { role: 'img', 'aria-label': 'Her heartbeat over the last 24 hours: one square a minute' });
  for (const row of rows.slice().reverse()) {
    for (const c of row.cells.slice().reverse()) {
      grid.append(h(`i${c.fault ? '.fault' : c.tick ? '.tick' : ''}`, { title: `${c.at}${c.fault ? ' — fault: ' + c.providers.join(', ') : ''}` }));
    }
  }
  box.append(h('article.card.wide', h('h2', 'Last 24 hours'), h('p.hint', 'Green: her heart beat that minute. Red: an organ failed.'), grid));
  const mine = signals.filter((s) => s.details?.persona?.id === persona.id || !s.details?.persona).slice(-30).reverse();
  box.append(h('article.card.wide', h('h2', 'Recent signals'), mine.length
    ? h('ul.signals', mine.map((s) => h('li', h('time', when(s.time)), ' ', h('strong', s.title), ' ', h('span.muted', s.type))))
    : h('p.muted', 'Nothing since this page opened.')));
}

/**
 * Her identity regulation: what the identity engine allows her, and a chart of her stress and
 * energy over her last cycles. Read from her identity instance, so a stopped persona shows the
 * last known state.
 */
function regulation(persona) {
  const card = h('article.card.wide.regulation', h('h2', 'Identity regulation'), h('p.muted', 'Loading…'));
  get(personaPath(persona.id, '/regulation?last=50')).then((data) => {
    const r = data.now;
    if (!r) {
      clear(card, h('h2', 'Identity regulation'), h('p.muted', 'Nothing yet: her identity starts with her first wake.'));
      return;
    }
    const energy = Math.max(0, Math.min(1, Number(r.energy) || 0));
    clear(card, h('h2', 'Identity regulation'),
      persona.running ? null : h('p.hint', 'She is not running: this is her last known state.'),
      h('dl',
        h('dt', 'Stress'), h('dd', h(`span.badge.stress-${String(r.stress).toLowerCase()}`, r.stress)),
        h('dt', 'Energy'), h('dd', h('meter', { min: 0, max: 1, value: energy }), ` ${Math.round(energy * 100)}%`),
        h('dt', 'Decision style'), h('dd', Object.entries(r.decision_style || {}).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join(', ')),
        h('dt', 'Allowed'), h('dd', (r.allowed_actions || []).join(', ') || '—'),
        h('dt', 'Forbidden'), h('dd', (r.forbidden_actions || []).join(', ') || '—'),
        h('dt', 'Modes'), h('dd', (r.dominant_modes || []).join(', ') || '—'),
        r.should_pause ? [h('dt', 'Advice'), h('dd', 'She should pause.')] : null),
      h('h3', 'Stress and energy, cycle by cycle'),
      data.cycles.length
        ? [regulationChart(data.cycles), h('p.legend', h('span.key.stress', 'Stress'), ' ', h('span.key.energy', 'Energy'),
          h('span.muted', ` — her last ${data.cycles.length} cycles; each cycle is one thing that happened to her.`))]
        : h('p.muted', 'No cycles yet: the chart fills in as she lives.'));
  }).catch((e) => clear(card, h('h2', 'Identity regulation'), h('p.form-error', e.message)));
  return card;
}
