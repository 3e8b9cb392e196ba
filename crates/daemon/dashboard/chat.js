// Talking with her: her conversation, then live over her socket; the composer (text, files by
// button or drag and drop, a recorded voice note); a thinking sign from her beat signals; STOP;
// and the organ strip.

import { h, clear, toast, busy, when } from './dom.js';
import { get, post, personaPath, live } from './api.js';
import { markdown } from './markdown.js';
import { ORGANS } from './organs.js';

const IMAGE = /\.(png|jpe?g|gif|webp|bmp)$/i;
const AUDIO = /\.(mp3|wav|ogg|oga|opus|m4a|webm|flac|aac)$/i;

function mediaNode(id, media) {
  const file = String(media.source || '').split(/[\\/]/).pop();
  if (!file) return null;
  const src = personaPath(id, `/media/${encodeURIComponent(file)}`);
  if (IMAGE.test(file)) {
    return h('button.thumb', { type: 'button', 'aria-label': 'Enlarge image', onclick: () => enlarge(src) },
      h('img', { src, alt: media.caption || file, loading: 'lazy' }));
  }
  if (AUDIO.test(file)) return h('audio', { src, controls: true, preload: 'none' });
  return h('a.file', { href: src, download: file }, file);
}

function enlarge(src) {
  const close = () => dialog.remove();
  const dialog = h('div.lightbox', { role: 'dialog', 'aria-label': 'Image', tabIndex: -1, onclick: close,
    onkeydown: (e) => { if (e.key === 'Escape') close(); } }, h('img', { src, alt: '' }));
  document.body.append(dialog);
  dialog.focus();
}

function bubble(id, m) {
  const mine = m.role === 'person';
  const via = m.channel && m.channel.type && m.channel.type !== 'web' ? h('span.via', `via ${m.channel.type}`) : null;
  const body = mine ? h('div.text', String(m.content ?? '')) : h('div.text.md', markdown(m.content));
  return h(`article.msg.${mine ? 'mine' : 'hers'}`,
    m.media ? mediaNode(id, m.media) : null,
    m.content ? body : null,
    h('footer', via, m.time ? h('time', when(m.time)) : null));
}

/** Only one audio plays at a time. */
document.addEventListener('play', (e) => {
  for (const a of document.querySelectorAll('audio')) if (a !== e.target) a.pause();
}, true);

export function organStrip(persona, go) {
  return h('nav.strip', { 'aria-label': 'Her organs' }, ORGANS.map(([slot, label]) => {
    const organ = persona[slot];
    return h(`a.chip${organ ? '.set' : '.empty'}`, {
      href: `/persona/${persona.id}/settings/organs`,
      title: organ ? `${label}: ${organ.name}${organ.provider ? ' (' + organ.provider + ')' : ' (local)'}` : `${label}: not set`,
      dataset: { organ: slot },
      onclick: (e) => { e.preventDefault(); go(`/persona/${persona.id}/settings/organs`, slot); },
    }, label, h('span.sr', organ ? ' set' : ' not set'));
  }));
}

export async function chat(main, persona, go) {
  const id = persona.id;
  const list = h('div.messages', { role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const thinking = h('div.thinking', { hidden: true }, h('span.dots', h('i'), h('i'), h('i')), `${persona.name} is thinking`);
  const stop = h('button.stop', { type: 'button', hidden: true }, 'Stop');
  const setThinking = (on) => { thinking.hidden = !on; stop.hidden = !on; };
  stop.addEventListener('click', () => busy(stop, async () => {
    try {
      const r = await post(personaPath(id, '/interrupt'));
      toast(r && r.interrupted ? 'Stopped her current thought.' : 'She was not thinking.');
      setThinking(false);
    } catch (e) {
      toast(e.message, 'error');
    }
  }));
  const scroll = () => { list.scrollTop = list.scrollHeight; };
  // The first message, hers or the person's, replaces the "Say hello" hint.
  const add = (m) => { list.querySelector('.empty-chat')?.remove(); list.append(bubble(id, m)); scroll(); };

  // Her replies as her Mind writes them (`chat_draft` frames), oldest first. Each is replaced by
  // the reply it drafted once she says it; withdrawn drafts vanish.
  const drafts = [];
  const draftBubble = (content) => {
    const node = bubble(id, { role: 'assistant', content });
    node.classList.add('draft');
    return node;
  };
  const drafted = (frame) => {
    if (frame.kind === 'draft_withdrawn') {
      for (const d of drafts.splice(0)) d.node.remove();
      return;
    }
    if (frame.kind === 'draft_start' || !drafts.length) {
      list.querySelector('.empty-chat')?.remove();
      const d = { text: frame.content, node: draftBubble(frame.content) };
      drafts.push(d);
      list.append(d.node);
    } else {
      const d = drafts[drafts.length - 1];
      d.text += frame.content;
      const node = draftBubble(d.text);
      d.node.replaceWith(node);
      d.node = node;
    }
    scroll();
  };
  const said = (content) => {
    if (drafts.length && String(content).startsWith(drafts[0].text)) drafts.shift().node.remove();
  };

  const text = h('textarea', { rows: 1, placeholder: `Write to ${persona.name}…`, 'aria-label': 'Message' });
  const fileInput = h('input', { type: 'file', hidden: true, id: 'attach-file' });
  const attachBtn = h('button.icon', { type: 'button', title: 'Attach a file', 'aria-label': 'Attach a file', onclick: () => fileInput.click() }, 'Attach');
  const recordBtn = h('button.icon', { type: 'button', title: 'Record a voice note', 'aria-label': 'Record a voice note' }, 'Voice');
  const send = h('button.primary', { type: 'submit' }, 'Send');
  const form = h('form.composer', text, fileInput, attachBtn, recordBtn, send);

  const attach = async (file) => {
    const data = new FormData();
    data.append('file', file, file.name);
    if (text.value.trim()) data.append('caption', text.value.trim());
    await busy(attachBtn, async () => {
      try {
        await post(personaPath(id, '/attach'), data);
        add({ role: 'person', content: text.value.trim() || file.name, time: new Date().toISOString() });
        text.value = '';
        setThinking(true);
      } catch (e) {
        toast(e.message, 'error');
      }
    });
  };
  fileInput.addEventListener('change', () => { if (fileInput.files[0]) attach(fileInput.files[0]); fileInput.value = ''; });

  let recorder = null;
  recordBtn.addEventListener('click', async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      toast('This browser cannot record audio.', 'error');
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = async () => {
        stream.getTracks().forEach((t) => t.stop());
        recorder = null;
        recordBtn.classList.remove('recording');
        recordBtn.setAttribute('aria-label', 'Record a voice note');
        const blob = new Blob(chunks, { type: chunks[0]?.type || 'audio/webm' });
        const data = new FormData();
        data.append('audio', blob, 'voice-note.webm');
        try {
          await post(personaPath(id, '/hear'), data);
          add({ role: 'person', content: 'Voice note', time: new Date().toISOString() });
          setThinking(true);
        } catch (e) {
          toast(e.message, 'error');
        }
      };
      recorder.start();
      recordBtn.classList.add('recording');
      recordBtn.setAttribute('aria-label', 'Stop recording and send');
      toast('Recording… press the microphone again to send.');
    } catch {
      toast('The microphone is not available.', 'error');
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const message = text.value.trim();
    if (!message) return;
    // Her reply can arrive before the POST answers, so her person's line goes in first.
    const mine = bubble(id, { role: 'person', content: message, time: new Date().toISOString() });
    list.querySelector('.empty-chat')?.remove();
    list.append(mine);
    scroll();
    text.value = '';
    setThinking(true);
    await busy(send, async () => {
      try {
        await post(personaPath(id, '/read'), { message });
      } catch (err) {
        mine.remove();
        text.value = message;
        setThinking(false);
        toast(err.message, 'error');
      }
    });
  });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  const area = h('section.chat', { ondragover: (e) => { e.preventDefault(); area.classList.add('over'); },
    ondragleave: () => area.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); area.classList.remove('over'); if (e.dataTransfer.files[0]) attach(e.dataTransfer.files[0]); } },
  h('header.chat-head', h('h1', persona.name), organStrip(persona, go)),
  persona.running ? null : h('p.notice', `${persona.name} is not running. Wake her in Settings → Lifecycle to talk.`),
  list, h('div.chat-foot', thinking, stop), form);
  clear(main, area);

  try {
    const { messages } = await get(personaPath(id, '/conversation'));
    for (const m of messages || []) list.append(bubble(id, m));
    if (!messages?.length) list.append(h('p.muted.empty-chat', `Say hello to ${persona.name}.`));
    scroll();
  } catch (e) {
    toast(e.message, 'error');
  }
  setThinking(Boolean(persona.life && persona.life.thinking));
  text.focus();

  const socket = live(`/ws/${encodeURIComponent(id)}`, (frame) => {
    if (frame.type === 'chat_message') {
      said(frame.content);
      add({ role: 'assistant', content: frame.content, time: new Date().toISOString() });
    } else if (frame.type === 'chat_draft') {
      drafted(frame);
    } else if (frame.type === 'Message' && frame.title === 'Said') {
      // Heard and Said come down the same signal feed, in order; her chat line travels on
      // another, so only Said ends the thinking sign.
      setThinking(false);
    } else if (frame.type === 'Message' && frame.title === 'Heard') {
      const channel = frame.details?.channel;
      if (channel && channel.type && channel.type !== 'web') add({ role: 'person', content: frame.details.content, channel, time: frame.time / 1e6 });
      setThinking(true);
    } else if (frame.type === 'BrainFault' || (frame.type === 'Event' && ['Sick', 'Slept'].includes(frame.title))) {
      setThinking(false);
    }
  });
  return () => socket.close();
}
