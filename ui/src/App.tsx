/** The window: DEMO banner, header (fleet, views, sync), errors, the view. */
import { useEffect } from 'preact/hooks';
import { CommandPalette } from './components/CommandPalette';
import { Notices } from './components/Notices';
import { SyncControls } from './components/SyncControls';
import { useRoute, VIEWS } from './routes';
import { useConsoleState } from './state/console';

export function App() {
  const state = useConsoleState();
  const route = useRoute();
  const { overview } = state;
  const View = route.component;

  // `/` focuses the current view's filter, wherever the focus is (but in a field).
  useEffect(() => {
    const listener = (event: KeyboardEvent) => {
      if (event.key !== '/' || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target instanceof HTMLElement ? event.target : null;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      const filter = document.querySelector<HTMLInputElement>('main input.filter');
      if (filter === null) return;
      event.preventDefault();
      filter.focus();
      filter.select();
    };
    document.addEventListener('keydown', listener);
    return () => document.removeEventListener('keydown', listener);
  }, []);

  return (
    <div class="app">
      {overview?.demo && (
        <div id="demo-banner" class="demo-banner" role="note">
          <strong>DEMO</strong> Simulated fleet — no real AWS account is being read.
        </div>
      )}
      <header class="topbar">
        <div class="brand">
          <span class="product">fleetdeck</span>
          <h1 id="fleet-name" class="fleet-name">
            {overview?.fleet_name ?? ''}
          </h1>
        </div>
        <nav class="views" aria-label="Views">
          {VIEWS.map((view) => (
            <a
              key={view.id}
              id={`nav-${view.id}`}
              href={`#/${view.id}`}
              class="view-link"
              aria-current={view === route ? 'page' : undefined}
            >
              {view.label}
            </a>
          ))}
        </nav>
        <button type="button" id="open-palette" class="link-button palette-hint-button" title="Command palette (Ctrl+K)" onClick={() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'k', ctrlKey: true }))}>
          Ctrl+K
        </button>
        <SyncControls state={state} />
      </header>
      <CommandPalette state={state} />
      <Notices notices={state.notices} dismiss={state.dismiss} />
      {state.overview && state.overview.notices.length > 0 && (
        <section id="cache-notices" class="notices" role="status" aria-label="Notices">
          {state.overview.notices.map((text) => (
            <div class="notice" key={text}>
              <span class="notice-message">{text}</span>
            </div>
          ))}
        </section>
      )}
      <main class="view" id={`view-${route.id}`}>
        <View state={state} />
      </main>
    </div>
  );
}
