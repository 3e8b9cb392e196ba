// Building DOM nodes without ever parsing HTML: text always goes in as text, so nothing she or
// anyone writes can become markup.

/** h('button.primary#go', {onclick, type: 'button'}, 'Go', child…) */
export function h(spec, attrs, ...children) {
  const [, tag = 'div', rest = ''] = spec.match(/^([a-z0-9-]*)(.*)$/i);
  const el = document.createElement(tag || 'div');
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && key !== 'list' && key !== 'form') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A short message at the corner of the screen: every action says how it went. */
export function toast(text, kind = 'ok') {
  const box = document.getElementById('toasts');
  const item = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

/** Runs `work` with `button` disabled and showing a spinner, so a long request is visible. */
export async function busy(button, work) {
  button.disabled = true;
  button.classList.add('busy');
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.classList.remove('busy');
    button.removeAttribute('aria-busy');
  }
}

/** Offers `data` as a file download. */
export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function field(label, input, hint) {
  const id = input.id || (input.id = 'f-' + Math.random().toString(36).slice(2, 9));
  const error = h('small.error', { role: 'alert' });
  // A message about a field is about what was sent: once the person edits it, it no longer applies.
  input.addEventListener('input', () => {
    error.textContent = '';
    input.classList.remove('invalid');
  });
  return h('div.field', { dataset: { field: input.name || '' } },
    h('label', { htmlFor: id }, label),
    input,
    hint ? h('small.hint', hint) : null,
    error);
}

/** Shows each 422 message next to its field (matched by name), the rest at `general`. */
export function showErrors(form, error, general) {
  for (const el of form.querySelectorAll('.field .error')) el.textContent = '';
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
  const leftover = [];
  for (const [name, msg] of Object.entries(error.fields || {})) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    const slot = input && input.closest('.field')?.querySelector('.error');
    if (slot) {
      slot.textContent = msg;
      input.classList.add('invalid');
    } else leftover.push(`${name}: ${msg}`);
  }
  const text = leftover.length ? leftover.join('; ') : (Object.keys(error.fields || {}).length ? '' : error.message);
  if (general) general.textContent = text;
  if (text) toast(text, 'error');
}

export function when(ns) {
  const d = new Date(typeof ns === 'number' ? ns / 1e6 : ns);
  return isNaN(d) ? '' : d.toLocaleString();
}
