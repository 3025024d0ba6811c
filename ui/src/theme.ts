/**
 * The window's theme and time zone, from the viewer's settings. The theme
 * is a class of attribute on <html> (the CSP allows no inline styles); on
 * "system" it follows the desktop's light/dark preference as it changes.
 * Charts are images drawn by Rust, so they are asked for in the effective
 * theme (`isDark`) and redrawn when it changes.
 */
import type { Settings } from './bindings/Settings';

const query = window.matchMedia('(prefers-color-scheme: light)');

export type Effective = 'light' | 'dark';

export function effectiveTheme(theme: string): Effective {
  if (theme === 'light' || theme === 'dark') return theme;
  return query.matches ? 'light' : 'dark';
}

/** Applies `theme` to the document; calls `onChange` when the system flips it. */
export function applyTheme(theme: string, onChange: (effective: Effective) => void): () => void {
  const apply = () => {
    const effective = effectiveTheme(theme);
    document.documentElement.dataset.themeEffective = effective;
    onChange(effective);
  };
  apply();
  query.addEventListener('change', apply);
  return () => query.removeEventListener('change', apply);
}

/**
 * Minutes east of UTC the charts' time axis is drawn in: the viewer's
 * local offset, or 0 for UTC. (A range across a DST change is labelled in
 * the offset of now.)
 */
export function utcOffsetMinutes(settings: Pick<Settings, 'time_zone'>): number {
  return settings.time_zone === 'local' ? -new Date().getTimezoneOffset() : 0;
}
