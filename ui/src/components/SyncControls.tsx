/**
 * Data freshness and the sync: "synced 2 min ago", the Sync now button, live
 * progress while a sync runs, and what the last sync could not reach.
 */
import { useEffect, useRef } from 'preact/hooks';
import type { SyncSummary } from '../bindings/SyncSummary';
import { ago, plural, timestamp } from '../format';
import type { ConsoleState } from '../state/console';

/** Older than this, the freshness is shown as a warning. */
const STALE_MS = 15 * 60_000;

export function SyncControls({ state }: { state: ConsoleState }) {
  const { overview, sync, now } = state;
  const lastSync = overview?.last_sync ?? null;
  const progress = sync.progress;

  return (
    <div class="sync">
      {sync.last && sync.last.errors.length > 0 && <SyncErrors summary={sync.last} />}
      <span
        id="freshness"
        class={lastSync !== null && now - lastSync > STALE_MS ? 'freshness stale' : 'freshness'}
        title={lastSync !== null ? `Last sync finished ${timestamp(lastSync)}${summaryLine(sync.last)}` : undefined}
      >
        {lastSync !== null ? `synced ${ago(lastSync, now)}` : overview ? 'never synced' : ''}
      </span>
      {sync.running && (
        <div id="sync-progress" class="sync-progress" role="status">
          {progress && progress.total > 0 ? (
            <progress max={progress.total} value={progress.done} />
          ) : (
            <progress />
          )}
          <span class="sync-text">
            {progress ? (
              <>
                <span class="sync-phase">
                  {progress.phase} {progress.done}/{progress.total}
                </span>{' '}
                <span class="sync-message">{progress.message}</span>
              </>
            ) : (
              'starting…'
            )}
          </span>
        </div>
      )}
      <button
        type="button"
        id="sync-now"
        class="button primary"
        disabled={sync.running || state.offline}
        title={state.offline ? 'Started with --offline: the cache as it is, no AWS call' : undefined}
        onClick={state.startSync}
      >
        {state.offline ? 'Offline' : sync.running ? 'Syncing…' : 'Sync now'}
      </button>
    </div>
  );
}

function summaryLine(summary: SyncSummary | null): string {
  if (summary === null) return '';
  return (
    `\n${summary.sources_ok} sources ok, ${summary.sources_failed} failed` +
    `\n${summary.datapoints.toLocaleString()} datapoints, ${plural(summary.api_calls, 'API call')}` +
    ` (about $${summary.dollars.toFixed(2)})`
  );
}

function SyncErrors({ summary }: { summary: SyncSummary }) {
  const count = summary.errors.length;
  const details = useRef<HTMLDetailsElement>(null);
  // The list opens as a popover, so it closes like one: outside click, Escape.
  useEffect(() => {
    const close = (event: Event) => {
      const element = details.current;
      if (element === null || !element.open) return;
      if (event instanceof KeyboardEvent ? event.key === 'Escape' : !element.contains(event.target as Node)) {
        element.open = false;
      }
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, []);
  return (
    <details id="sync-errors" class="sync-errors" ref={details}>
      <summary>
        <span class="glyph" aria-hidden="true">
          ▲
        </span>{' '}
        {summary.unreachable ? 'AWS unreachable' : `${plural(count, 'source')} failed`}
      </summary>
      <div class="popover">
        <p class="muted">
          {summary.unreachable
            ? 'The last sync could not connect to AWS. What you see is the cache as of the last good sync; ' +
              'fleetdeck tries again every minute until AWS answers.'
            : `The last sync could not read ${count === 1 ? 'this source' : 'these sources'}; their data may be stale.`}
        </p>
        <ul>
          {summary.errors.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
      </div>
    </details>
  );
}
