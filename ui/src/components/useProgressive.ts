/**
 * Long tables draw their first rows at once and the rest as the list is
 * scrolled to its end (a sentinel row comes into view) or the keyboard
 * cursor moves past them: 1,000 tenants' rows drawn up front cost the
 * view's first paint a second for rows nobody sees yet.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export const PAGE = 150;

export function useProgressive(count: number, cursor: number): { drawn: number; sentinel: preact.RefObject<HTMLTableRowElement | null> } {
  const sentinel = useRef<HTMLTableRowElement>(null);
  const [limit, setLimit] = useState(PAGE);
  const drawn = Math.min(count, Math.max(limit, cursor + PAGE));
  useEffect(() => {
    const end = sentinel.current;
    if (end === null) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setLimit((l) => l + PAGE);
    });
    observer.observe(end);
    return () => observer.disconnect();
  }, [drawn < count]);
  return { drawn, sentinel };
}
