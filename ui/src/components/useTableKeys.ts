/**
 * Arrow keys and Enter for a table: while focus is inside `container`,
 * ArrowUp/ArrowDown (PageUp/PageDown, Home/End) move a cursor over the
 * rows and Enter acts on the row under it. The cursor row is marked with
 * `data-cursor` by the caller and scrolled into view here.
 */
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

const PAGE_ROWS = 10;

export function useTableKeys(
  container: RefObject<HTMLElement | null>,
  count: number,
  onEnter: (index: number) => void,
): number {
  const [cursor, setCursor] = useState(0);
  const latest = useRef({ count, onEnter, cursor });
  latest.current = { count, onEnter, cursor };

  useEffect(() => {
    const el = container.current;
    if (el === null) return;
    const listener = (event: KeyboardEvent) => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target instanceof HTMLElement ? event.target : null;
      // Inputs, buttons and links inside the table keep their keys.
      if (target && ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON', 'A'].includes(target.tagName)) return;
      const { count: n, onEnter: enter, cursor: at } = latest.current;
      if (n === 0) return;
      const move = (to: number) => setCursor(Math.max(0, Math.min(n - 1, to)));
      switch (event.key) {
        case 'ArrowDown':
          move(at + 1);
          break;
        case 'ArrowUp':
          move(at - 1);
          break;
        case 'PageDown':
          move(at + PAGE_ROWS);
          break;
        case 'PageUp':
          move(at - PAGE_ROWS);
          break;
        case 'Home':
          move(0);
          break;
        case 'End':
          move(n - 1);
          break;
        case 'Enter':
          enter(Math.min(at, n - 1));
          break;
        default:
          return;
      }
      event.preventDefault();
    };
    el.addEventListener('keydown', listener);
    return () => el.removeEventListener('keydown', listener);
  }, [container]);

  useEffect(() => {
    container.current?.querySelector('[data-cursor]')?.scrollIntoView({ block: 'nearest' });
  }, [cursor]);

  return Math.min(cursor, Math.max(0, count - 1));
}
