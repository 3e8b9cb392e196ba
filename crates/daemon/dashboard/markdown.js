// Our small Markdown subset, rendered straight into DOM nodes (never through innerHTML), so it
// cannot inject markup: fenced code, headings, lists, quotes, paragraphs, and inline code,
// **bold**, *italic* and [links](https://…) (only http, https and mailto targets become links).

import { h } from './dom.js';

export function markdown(text) {
  const root = document.createDocumentFragment();
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const body = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) body.push(lines[i++]);
      i++;
      root.append(h('pre', h('code', body.join('\n'))));
      continue;
    }
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) {
      root.append(h(`h${Math.min(heading[1].length + 2, 6)}`, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        list.append(h('li', inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ''))));
        i++;
      }
      root.append(list);
      continue;
    }
    if (/^>\s?/.test(line)) {
      const body = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) body.push(lines[i++].replace(/^>\s?/, ''));
      root.append(h('blockquote', markdown(body.join('\n'))));
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(```|#{1,4}\s|>|\s*([-*+]|\d+[.)])\s)/.test(lines[i])) {
      para.push(lines[i++]);
    }
    const p = h('p');
    para.forEach((l, n) => {
      if (n) p.append(h('br'));
      p.append(inline(l));
    });
    root.append(p);
  }
  return root;
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/;

function inline(text) {
  const out = document.createDocumentFragment();
  let rest = text;
  while (rest) {
    const m = rest.match(INLINE);
    if (!m) {
      out.append(rest);
      break;
    }
    out.append(rest.slice(0, m.index));
    const token = m[0];
    if (m[1]) out.append(h('code', token.slice(1, -1)));
    else if (m[2]) out.append(h('strong', inline(token.slice(2, -2))));
    else if (m[3]) out.append(h('em', inline(token.slice(1, -1))));
    else {
      const [, label, href] = token.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/);
      out.append(/^(https?:|mailto:)/i.test(href)
        ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, label)
        : token);
    }
    rest = rest.slice(m.index + token.length);
  }
  return out;
}
