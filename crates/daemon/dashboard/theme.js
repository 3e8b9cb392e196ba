// Dark, Light or System, remembered in this browser under `eg.theme`.

const KEY = 'eg.theme';

export function currentTheme() {
  const t = localStorage.getItem(KEY);
  return t === 'dark' || t === 'light' ? t : 'system';
}

export function applyTheme(choice = currentTheme()) {
  if (choice === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, choice);
  const dark = choice === 'dark' || (choice === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme());
