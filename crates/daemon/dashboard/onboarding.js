// Meeting her: the choice between creating and restoring, the create form (every field of the
// create request), the recovery phrase shown once, and restoring from a diary.

import { h, clear, field, toast, busy, download, showErrors } from './dom.js';
import { post } from './api.js';
import { ORGANS, configurator, loadProviders } from './organs.js';

export function choice(main, go) {
  clear(main,
    h('section.onboarding',
      h('h1', 'Welcome'),
      h('p.lead', 'A persona lives on this machine: she remembers, grows, and talks with you here or on your phone.'),
      h('div.choices',
        h('a.choice', { href: '/onboarding/create', onclick: (e) => { e.preventDefault(); go('/onboarding/create'); } },
          h('strong', 'Create a new persona'), h('span', 'Name her and choose the model she thinks with.')),
        h('a.choice', { href: '/onboarding/migrate', onclick: (e) => { e.preventDefault(); go('/onboarding/migrate'); } },
          h('strong', 'Restore from a diary'), h('span', 'Bring her back from her .diary file and recovery phrase.')))));
}

function optionalOrgans(urls, names) {
  const editors = {};
  const box = h('details.more', h('summary', 'More organs (optional): voice, eyes, ears, imagination, teacher, researcher'));
  for (const [slot, label, hint] of ORGANS.slice(1)) {
    editors[slot] = configurator(slot, { names: (k) => names(slot, k), optional: true, urls });
    box.append(h('fieldset.organ-set', h('legend', label), h('p.hint', hint), editors[slot].el));
  }
  return { box, editors };
}

function channelFields() {
  return h('details.more',
    h('summary', 'Channels (optional): talk to her on Telegram or Discord'),
    field('Telegram bot token', h('input', { name: 'telegram_token', type: 'password', autocomplete: 'off' }),
      'From @BotFather. After she starts, pair your chat with the code her bot sends you.'),
    field('Discord bot token', h('input', { name: 'discord_token', type: 'password', autocomplete: 'off' })));
}

export async function create(main, go, refresh) {
  const urls = await loadProviders();
  const name = h('input', { name: 'name', required: true, autocomplete: 'off', maxLength: 80 });
  const mind = configurator('thinking', { names: (k) => `thinking_${k}`, urls });
  const more = optionalOrgans(urls, (slot, k) => `${slot}_${k}`);
  const general = h('p.form-error', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Bring her to life');
  const form = h('form.card', { novalidate: true },
    h('h1', 'Create a persona'),
    field('Her name', name),
    h('fieldset.organ-set', h('legend', 'Her Mind'), h('p.hint', 'The model she thinks with. A local model stays on this machine; a cloud model needs its key.'), mind.el),
    more.box,
    channelFields(),
    general,
    h('div.actions', submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    // Empty fields are left out, so a forgotten name or model comes back as the daemon's
    // "Field required" next to that field.
    const body = {};
    if (name.value.trim()) body.name = name.value.trim();
    const put = (slot, v) => {
      if (!v) return;
      for (const [k, val] of Object.entries(v)) if (val !== '') body[`${slot}_${k}`] = val;
    };
    put('thinking', mind.value());
    for (const [slot, ed] of Object.entries(more.editors)) put(slot, ed.value());
    for (const t of ['telegram_token', 'discord_token']) {
      const v = form.querySelector(`[name=${t}]`).value.trim();
      if (v) body[t] = v;
    }
    await busy(submit, async () => {
      try {
        const reply = await post('/api/persona/create', body);
        refresh();
        phrase(main, reply.persona, reply.recovery_phrase, go);
      } catch (err) {
        showErrors(form, err, general);
      }
    });
  });
  clear(main, form);
  name.focus();
}

/** Her recovery phrase, shown once: large, with copy and download, and a confirmation. */
function phrase(main, persona, words, go) {
  const list = h('ol.phrase', { 'aria-label': 'Recovery phrase' }, words.split(/\s+/).map((w) => h('li', w)));
  const confirm = h('input', { type: 'checkbox', id: 'written' });
  const open = h('button.primary', { type: 'button', disabled: true, onclick: () => go(`/persona/${persona.id}/chat`) }, `Meet ${persona.name}`);
  confirm.addEventListener('change', () => { open.disabled = !confirm.checked; });
  clear(main, h('section.card.phrase-card',
    h('h1', `${persona.name} is alive`),
    h('p.lead', 'This is her recovery phrase. With it and her diary file she can be restored on any machine. It is shown only now: write it down and keep it safe.'),
    list,
    h('div.actions',
      h('button', { type: 'button', onclick: async () => {
        try {
          await navigator.clipboard.writeText(words);
          toast('Copied. Paste it somewhere safe, then clear your clipboard.');
        } catch {
          toast('Copying is not allowed here; write the words down instead.', 'error');
        }
      } }, 'Copy'),
      h('button', { type: 'button', onclick: () => download(`${persona.name}-recovery-phrase.txt`, new Blob([words + '\n'], { type: 'text/plain' })) }, 'Download')),
    h('label.check', confirm, 'I have written it down'),
    h('div.actions', open)));
}

export async function migrate(main, go, refresh) {
  const urls = await loadProviders();
  let diary = null;
  const fileInput = h('input', { type: 'file', name: 'diary', accept: '.diary', id: 'diary-file' });
  const picked = h('span.picked', 'No file chosen yet.');
  const choose = (file) => {
    if (!file) return;
    diary = file;
    picked.textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB)`;
    drop.classList.add('has-file');
  };
  fileInput.addEventListener('change', () => choose(fileInput.files[0]));
  const drop = h('div.dropzone', { tabIndex: 0, role: 'button', 'aria-label': 'Choose her diary file',
    onclick: () => fileInput.click(),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add('over'); },
    ondragleave: () => drop.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove('over'); choose(e.dataTransfer.files[0]); } },
  h('strong', 'Drop her .diary file here'), h('span', 'or press to choose it'), picked);
  const words = h('textarea', { name: 'phrase', rows: 3, autocomplete: 'off', spellcheck: false });
  const mind = configurator('thinking', { names: (k) => (k === 'model' ? 'model' : k), urls });
  const more = optionalOrgans(urls, (slot, k) => `${slot}_${k}`);
  const general = h('p.form-error', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Restore her');
  const form = h('form.card', { novalidate: true },
    h('h1', 'Restore from a diary'),
    h('div.field', { dataset: { field: 'diary' } }, drop, fileInput, h('small.error', { role: 'alert' })),
    field('Recovery phrase', words, 'The 24 words you wrote down when she was created.'),
    h('fieldset.organ-set', h('legend', 'Her Mind on this machine'), mind.el),
    more.box,
    channelFields(),
    general,
    h('div.actions', submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData();
    if (diary) data.append('diary', diary, diary.name);
    data.append('phrase', words.value.trim());
    const m = mind.value() || { model: '' };
    data.append('model', m.model);
    for (const k of ['provider', 'url', 'api_key']) if (m[k]) data.append(k, m[k]);
    for (const [slot, ed] of Object.entries(more.editors)) {
      const v = ed.value();
      if (v) for (const [k, val] of Object.entries(v)) if (val) data.append(`${slot}_${k}`, val);
    }
    for (const t of ['telegram_token', 'discord_token']) {
      const v = form.querySelector(`[name=${t}]`).value.trim();
      if (v) data.append(t, v);
    }
    await busy(submit, async () => {
      try {
        const reply = await post('/api/persona/migrate', data);
        toast(`${reply.persona.name} is back.`);
        await refresh();
        go(`/persona/${reply.persona.id}/chat`);
      } catch (err) {
        showErrors(form, err, general);
      }
    });
  });
  clear(main, form);
}
