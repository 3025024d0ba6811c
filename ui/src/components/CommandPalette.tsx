/**
 * The command palette (Ctrl+K, or Ctrl+P): jump to a tenant, a view or an
 * action by typing a few letters of it. Arrow keys move, Enter runs,
 * Escape closes. Tenant names are untrusted text and shown as text.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { asIpcError, exportReport, type ReportFormat } from '../ipc';
import { VIEWS } from '../routes';
import type { ConsoleState } from '../state/console';

interface Item {
  id: string;
  label: string;
  hint: string;
  run(): void | Promise<void>;
}

const MAX_SHOWN = 40;

/** Every word typed appears in the item, in any order (case-insensitive). */
export function matches(label: string, query: string): boolean {
  const hay = label.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .every((w) => hay.includes(w));
}

export function CommandPalette({ state }: { state: ConsoleState }) {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [cursor, setCursor] = useState(0);
  const [message, setMessage] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const listener = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && (event.key === 'k' || event.key === 'p')) {
        event.preventDefault();
        setOpen(true);
        setQuery('');
        setCursor(0);
        setMessage(null);
      }
    };
    document.addEventListener('keydown', listener);
    return () => document.removeEventListener('keydown', listener);
  }, []);
  useEffect(() => {
    if (open) input.current?.focus();
  }, [open]);

  const items = useMemo<Item[]>(() => {
    const report = (format: ReportFormat) => async () => {
      setMessage('Writing the report…');
      try {
        setMessage(`Saved to ${await exportReport(null, 7, format)}`);
      } catch (e) {
        setMessage(`Not saved: ${asIpcError(e).message}`);
      }
    };
    const go = (hash: string) => () => {
      location.hash = hash;
      setOpen(false);
    };
    const setting = (patch: Partial<ConsoleState['settings']>) => async () => {
      await state.saveSettings({ ...state.settings, ...patch });
      setOpen(false);
    };
    const out: Item[] = VIEWS.map((v) => ({ id: `view-${v.id}`, label: `Go to ${v.label}`, hint: 'view', run: go(`#/${v.id}`) }));
    const seen = new Set<string>();
    for (const row of state.overview?.rows ?? []) {
      if (seen.has(row.tenant)) continue;
      seen.add(row.tenant);
      out.push({
        id: `tenant-${row.tenant}`,
        label: `${row.name} (${row.tenant})`,
        hint: `tenant · ${row.tier} · ${row.health}`,
        run: go(`#/tenant/${encodeURIComponent(row.tenant)}`),
      });
    }
    out.push(
      {
        id: 'sync',
        label: 'Sync now',
        hint: 'action',
        run: () => {
          state.startSync();
          setOpen(false);
        },
      },
      { id: 'report-pdf', label: 'Export the weekly executive summary (PDF)', hint: 'action', run: report('pdf') },
      { id: 'report-html', label: 'Export the weekly executive summary (HTML)', hint: 'action', run: report('html') },
      { id: 'theme-dark', label: 'Theme: dark', hint: 'setting', run: setting({ theme: 'dark' }) },
      { id: 'theme-light', label: 'Theme: light', hint: 'setting', run: setting({ theme: 'light' }) },
      { id: 'theme-system', label: 'Theme: as the system', hint: 'setting', run: setting({ theme: 'system' }) },
      { id: 'tz-utc', label: 'Times in UTC', hint: 'setting', run: setting({ time_zone: 'utc' }) },
      { id: 'tz-local', label: 'Times in local time', hint: 'setting', run: setting({ time_zone: 'local' }) },
    );
    return out;
  }, [state.overview, state.settings]);

  const shown = useMemo(() => items.filter((i) => matches(`${i.label} ${i.hint}`, query)).slice(0, MAX_SHOWN), [items, query]);
  const at = Math.min(cursor, Math.max(0, shown.length - 1));

  if (!open) return null;
  return (
    <div class="palette-backdrop" onMouseDown={() => setOpen(false)}>
      <div
        id="palette"
        class="palette"
        role="dialog"
        aria-label="Command palette"
        onMouseDown={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setOpen(false);
          else if (e.key === 'ArrowDown') setCursor(Math.min(at + 1, shown.length - 1));
          else if (e.key === 'ArrowUp') setCursor(Math.max(at - 1, 0));
          else if (e.key === 'Enter') void shown[at]?.run();
          else return;
          e.preventDefault();
          e.stopPropagation();
        }}
      >
        <input
          ref={input}
          id="palette-input"
          class="filter palette-input"
          type="search"
          placeholder="Jump to a tenant, a view or an action…"
          aria-label="Command"
          autocomplete="off"
          spellcheck={false}
          value={query}
          onInput={(e) => {
            setQuery(e.currentTarget.value);
            setCursor(0);
          }}
        />
        <ul class="palette-items" role="listbox">
          {shown.map((item, i) => (
            <li
              key={item.id}
              id={`palette-${item.id}`}
              role="option"
              aria-selected={i === at}
              class={i === at ? 'is-cursor' : undefined}
              data-item={item.id}
              onMouseEnter={() => setCursor(i)}
              onClick={() => void item.run()}
            >
              <span class="palette-label">{item.label}</span>
              <span class="muted palette-hint">{item.hint}</span>
            </li>
          ))}
          {shown.length === 0 && <li class="muted">Nothing matches “{query}”.</li>}
        </ul>
        {message && (
          <p id="palette-message" class="muted small" role="status">
            {message}
          </p>
        )}
      </div>
    </div>
  );
}
