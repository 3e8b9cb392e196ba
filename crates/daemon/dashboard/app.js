// The shell: the sidebar of personas with their status dots, the router behind every deep link,
// and the system socket (status changes, model download progress).

import { h, clear, toast } from './dom.js';
import { get, live } from './api.js';
import { applyTheme } from './theme.js';
import { showPull } from './organs.js';
import * as onboarding from './onboarding.js';
import { chat } from './chat.js';
import { settings } from './settings.js';
import { calendar, memory, instructions, status } from './views.js';

applyTheme();

// A daemon bound beyond loopback hands out links ending in `#token=...`: the fragment never
// leaves the browser in a request line, so no proxy or log sees it. Trade it once for the
// HttpOnly session cookie that carries every later request, socket, image and sound, and take
// it out of the address bar and history before anything else runs.
const key = new URLSearchParams(location.hash.slice(1)).get('token');
if (key) {
  history.replaceState(null, '', location.pathname + location.search);
  try {
    const r = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: key }) });
    if (!r.ok) toast('This link has expired or was already used; ask for a new one.', 'error');
  } catch (e) {
    toast(e.message, 'error');
  }
}

const main = document.getElementById('main');
const sidebar = document.getElementById('sidebar');
let personas = [];
let leave = null;
const signals = [];

const SCREENS = [
  ['chat', 'Chat'],
  ['calendar', 'Schedule'],
  ['memory', 'Memory'],
  ['instructions', 'Instructions'],
  ['status', 'Status'],
  ['settings', 'Settings'],
];

/** awake, starting, hibernating, sick or stopped: what her dot says. */
function state(p) {
  if (p.status === 'sick') return 'sick';
  if (p.status === 'hibernate') return 'hibernating';
  if (p.state === 'starting') return 'starting';
  return p.running ? 'awake' : 'stopped';
}

async function refresh() {
  try {
    personas = (await get('/api/personas')).personas || [];
  } catch (e) {
    toast(e.message, 'error');
  }
  drawSidebar();
  return personas;
}

function drawSidebar() {
  const current = location.pathname.split('/')[2];
  clear(sidebar,
    h('a.brand', { href: '/', onclick: (e) => { e.preventDefault(); go('/'); } }, h('img', { src: '/assets/icon.svg', alt: '' }), 'Eternego'),
    h('ul.personas', personas.map((p) => {
      const s = state(p);
      return h('li', h('a', { href: `/persona/${p.id}/chat`, 'aria-current': p.id === current ? 'page' : null,
        onclick: (e) => { e.preventDefault(); go(`/persona/${p.id}/chat`); } },
      h(`span.dot.${s}`, { title: s }), h('span.name', p.name), h('span.sr', ` (${s})`)));
    })),
    h('a.add', { href: '/onboarding/create', title: 'Create another persona', onclick: (e) => { e.preventDefault(); go('/onboarding/create'); } }, '+ New persona'));
}

function personaNav(p, screen) {
  return h('nav.screens', { 'aria-label': `${p.name}'s screens` }, SCREENS.map(([s, label]) =>
    h('a', { href: `/persona/${p.id}/${s}`, 'aria-current': s === screen ? 'page' : null,
      onclick: (e) => { e.preventDefault(); go(`/persona/${p.id}/${s}`); } }, label)));
}

/** Moves to `path` (pushing history) and draws it; `focus` is passed to the screen. */
export function go(path, focus) {
  if (path !== location.pathname) history.pushState(null, '', path);
  route(focus);
}

async function route(focus) {
  if (leave) {
    leave();
    leave = null;
  }
  drawSidebar();
  const parts = location.pathname.split('/').filter(Boolean);
  const ctx = { go, refresh, focus };
  if (parts[0] === 'onboarding') {
    if (parts[1] === 'create') return onboarding.create(main, go, refresh);
    if (parts[1] === 'migrate') return onboarding.migrate(main, go, refresh);
    return onboarding.choice(main, go);
  }
  if (parts[0] === 'persona') {
    const p = personas.find((x) => x.id === parts[1]);
    if (!p) {
      clear(main, h('section.card', h('h1', 'Not found'), h('p', 'No persona with that id lives here.'),
        h('a', { href: '/', onclick: (e) => { e.preventDefault(); go('/'); } }, 'Back')));
      return;
    }
    const screen = parts[2] || 'chat';
    const view = h('div.view');
    clear(main, personaNav(p, screen), view);
    if (screen === 'chat') leave = await chat(view, p, go);
    else if (screen === 'calendar') await calendar(view, p);
    else if (screen === 'memory') await memory(view, p);
    else if (screen === 'instructions') await instructions(view, p);
    else if (screen === 'status') await status(view, p, signals);
    else if (screen === 'settings') await settings(view, p, parts[3], ctx);
    main.focus({ preventScroll: true });
    return;
  }
  if (personas.length) return go(`/persona/${personas[0].id}/chat`);
  return onboarding.choice(main, go);
}

addEventListener('popstate', () => route());

let pending = null;
live('/ws/system', (frame) => {
  if (frame.type === 'ModelPull') {
    showPull(frame.details || {});
    return;
  }
  signals.push(frame);
  if (signals.length > 200) signals.shift();
  // A life event may change a dot: redraw the sidebar once the burst is over.
  if (frame.type === 'Event' || frame.type === 'BrainFault') {
    clearTimeout(pending);
    pending = setTimeout(refresh, 300);
  }
});

refresh().then(() => route());
