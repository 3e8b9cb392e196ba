// Her settings: organs (the same configurator as onboarding), channels, appearance, lifecycle,
// and the danger zone (export her diary, delete her after typing her name).

import { h, clear, toast, busy, field, showErrors } from './dom.js';
import { post, del, personaPath } from './api.js';
import { ORGANS, configurator, loadProviders } from './organs.js';
import { applyTheme, currentTheme } from './theme.js';

export const TABS = [
  ['organs', 'Organs'],
  ['channels', 'Channels'],
  ['appearance', 'Appearance'],
  ['lifecycle', 'Lifecycle'],
  ['danger', 'Danger zone'],
];

export async function settings(main, persona, tab, ctx) {
  tab = TABS.some(([t]) => t === tab) ? tab : 'organs';
  const nav = h('nav.tabs', { 'aria-label': 'Settings' }, TABS.map(([t, label]) =>
    h('a', { href: `/persona/${persona.id}/settings/${t}`, 'aria-current': t === tab ? 'page' : null,
      onclick: (e) => { e.preventDefault(); ctx.go(`/persona/${persona.id}/settings/${t}`); } }, label)));
  const body = h('div.tab-body');
  clear(main, h('section.settings', h('h1', `${persona.name} — settings`), nav, body));
  await ({ organs, channels, appearance, lifecycle, danger }[tab])(body, persona, ctx);
}

async function organs(body, persona, ctx) {
  const urls = await loadProviders();
  for (const [slot, label, hint] of ORGANS) {
    const organ = persona[slot];
    const editor = configurator(slot, { names: (k) => `${slot}.${k}`, current: organ, optional: slot !== 'thinking', urls });
    const save = h('button.primary', { type: 'submit' }, 'Save');
    const general = h('p.form-error', { role: 'alert' });
    const status = h('span.badge', organ ? `${organ.name} · ${organ.provider || 'local'}${organ.provider ? ' · key set' : ''}` : 'not set');
    const form = h('form.card.organ-card', { id: `organ-${slot}`, novalidate: true },
      h('h2', label, ' ', status), h('p.hint', hint), editor.el, general, h('div.actions', save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const value = editor.value();
      const change = value ? { [slot]: value } : slot === 'thinking' ? { thinking: { model: '' } } : { [`clear_${slot}`]: true };
      await busy(save, async () => {
        try {
          await post(personaPath(persona.id, '/update'), change);
          toast(value ? `${label} saved.` : `${label} removed.`);
          await ctx.refresh();
          ctx.go(`/persona/${persona.id}/settings/organs`, slot);
        } catch (err) {
          showErrors(form, err, general);
        }
      });
    });
    body.append(form);
  }
  if (ctx.focus) document.getElementById(`organ-${ctx.focus}`)?.scrollIntoView();
}

async function channels(body, persona, ctx) {
  const list = h('ul.channels');
  for (const c of persona.channels) {
    const remove = h('button.danger', { type: 'button' }, 'Remove');
    remove.addEventListener('click', () => busy(remove, async () => {
      try {
        await del(personaPath(persona.id, `/channels/${encodeURIComponent(c.name)}`));
        toast(`${c.type} removed.`);
        await ctx.refresh();
        ctx.go(`/persona/${persona.id}/settings/channels`);
      } catch (e) {
        toast(e.message, 'error');
      }
    }));
    list.append(h('li', h('strong', { telegram: 'Telegram', discord: 'Discord' }[c.type] || c.type), ' ', h('span.badge' + (c.verified ? '.ok' : '.wait'), c.verified ? 'paired' : 'waiting for pairing'), ' ', remove));
  }
  if (!persona.channels.length) list.append(h('li.muted', 'No channels yet: she talks only here.'));

  const kind = h('select', { name: 'kind' }, h('option', { value: 'telegram' }, 'Telegram'), h('option', { value: 'discord' }, 'Discord'));
  const token = h('input', { name: 'credentials.token', type: 'password', autocomplete: 'off' });
  const add = h('button.primary', { type: 'submit' }, 'Add channel');
  const general = h('p.form-error', { role: 'alert' });
  const addForm = h('form.card', { novalidate: true }, h('h2', 'Add a channel'),
    field('Platform', kind), field('Bot token', token, 'Stored on this machine only; shown nowhere.'), general, h('div.actions', add));
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(add, async () => {
      try {
        await post(personaPath(persona.id, '/channels'), { kind: kind.value, credentials: { token: token.value.trim() } });
        toast('Channel added. Send her bot a message: it answers with a pairing code.');
        await ctx.refresh();
        ctx.go(`/persona/${persona.id}/settings/channels`);
      } catch (err) {
        showErrors(addForm, err, general);
      }
    });
  });

  const code = h('input', { name: 'code', autocomplete: 'off', spellcheck: false });
  const pair = h('button.primary', { type: 'submit' }, 'Pair');
  const pairGeneral = h('p.form-error', { role: 'alert' });
  const pairForm = h('form.card', { novalidate: true }, h('h2', 'Pair a chat'),
    h('p.hint', 'Write to her bot from your own account; it replies with a code. Type the code here so she knows the chat is yours.'),
    field('Pairing code', code), pairGeneral, h('div.actions', pair));
  pairForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(pair, async () => {
      try {
        const r = await post(personaPath(persona.id, '/pair'), { code: code.value.trim() });
        toast(`Paired on ${r.channel.type}.`);
        await ctx.refresh();
        ctx.go(`/persona/${persona.id}/settings/channels`);
      } catch (err) {
        showErrors(pairForm, err, pairGeneral);
      }
    });
  });
  body.append(h('div.card', h('h2', 'Her channels'), list), addForm, pairForm);
}

function appearance(body) {
  const group = h('div.tiles', { role: 'radiogroup', 'aria-label': 'Theme' });
  for (const [value, label] of [['dark', 'Dark'], ['light', 'Light'], ['system', 'System']]) {
    const input = h('input', { type: 'radio', name: 'theme', value, checked: currentTheme() === value,
      onchange: () => { applyTheme(value); toast(`Theme: ${label}.`); } });
    group.append(h('label.tile', input, h('strong', label)));
  }
  body.append(h('div.card', h('h2', 'Theme'), h('p.hint', 'Kept in this browser only.'), group));
}

function lifecycle(body, persona, ctx) {
  const action = (label, hint, run, done) => {
    const button = h('button', { type: 'button' }, label);
    button.addEventListener('click', () => busy(button, async () => {
      try {
        await run();
        toast(done);
        await ctx.refresh();
        ctx.go(`/persona/${persona.id}/settings/lifecycle`);
      } catch (e) {
        toast(e.message, 'error');
      }
    }));
    return h('li', button, h('span.hint', hint));
  };
  const p = (rest, body) => post(personaPath(persona.id, rest), body);
  body.append(h('div.card', h('h2', 'Lifecycle'),
    h('p', `She is ${persona.status}${persona.running ? ' and running' : ' and not running'}.`),
    h('ul.actions-list',
      action('Wake', 'Make her active and start her.', () => p('/update', { status: 'active' }).then((r) => (r.running ? null : p('/start'))), 'She is awake.'),
      action('Sleep', 'Her nightly ritual now: she consolidates what she lived.', () => p('/sleep'), 'She slept.'),
      action('Stop', 'Stop her until you start her again.', () => p('/stop'), 'She is stopped.'),
      action('Restart', 'Re-read her from disk and start again.', () => p('/restart'), 'She restarted.'),
      action('Hibernate', 'Stop her and keep her stopped, even after the daemon restarts.', () => p('/update', { status: 'hibernate' }), 'She is hibernating.'))));
}

function danger(body, persona, ctx) {
  const exportLink = h('a.button', { href: personaPath(persona.id, '/export'), download: `${persona.id}.diary` }, 'Download her diary');
  const typed = h('input', { name: 'confirm', autocomplete: 'off', spellcheck: false });
  const remove = h('button.danger', { type: 'submit', disabled: true }, 'Delete her forever');
  typed.addEventListener('input', () => { remove.disabled = typed.value !== persona.name; });
  const form = h('form.card.danger-card', { novalidate: true }, h('h2', 'Delete'),
    h('p', 'Deleting removes her and every memory she keeps from this machine. Download her diary first if you may ever want her back.'),
    field(`Type her name (${persona.name}) to confirm`, typed), h('div.actions', remove));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (typed.value !== persona.name) return;
    await busy(remove, async () => {
      try {
        await post(personaPath(persona.id, '/delete'));
        toast(`${persona.name} was deleted.`);
        await ctx.refresh();
        ctx.go('/');
      } catch (err) {
        toast(err.message, 'error');
      }
    });
  });
  body.append(h('div.card', h('h2', 'Export'), h('p', 'Her diary is her encrypted backup; with her recovery phrase it restores her anywhere.'), exportLink), form);
}
