/**
 * The landing view: is the fleet healthy, and if not, which tenant is broken,
 * where and why. KPIs on top (with health by tier and region), the
 * tenant-region table or the health heatmap over time (both filtered by
 * text, health, tier, region and model, driven by the keyboard), and the
 * selected row's chart beside them.
 */
import { uiReady } from '../../ipc';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Health } from '../../bindings/Health';
import type { TenantHealth } from '../../bindings/TenantHealth';
import type { HealthChanges } from '../../bindings/HealthChanges';
import { shortTime } from '../../format';
import { ExportButton } from '../../components/ExportButton';
import { FilterBox } from '../../components/FilterBox';
import { HEALTH_GLYPH, HEALTHS } from '../../components/HealthBadge';
import type { ViewProps } from '../../routes';
import { ChartPanel } from './ChartPanel';
import { countByHealth, distinct, filterRows, rowKey } from './filter';
import { FleetTable } from './FleetTable';
import { Heatmap } from './Heatmap';
import { KpiStrip } from './KpiStrip';

const PAGE_ROWS = 10;

export function FleetView({ state }: ViewProps) {
  const { overview, sync, now } = state;
  const rows = overview?.rows ?? [];

  const [text, setText] = useState('');
  const [healths, setHealths] = useState<ReadonlySet<Health>>(new Set());
  const [tier, setTier] = useState('');
  const [region, setRegion] = useState('');
  const [model, setModel] = useState('');
  const [mode, setMode] = useState<'table' | 'heatmap'>('table');
  // Null selection follows the worst row, which can change with each sync.
  const [selectedKey, setSelectedKey] = useState<string | null>(null);
  const [cursorKey, setCursorKey] = useState<string | null>(null);
  const filterInput = useRef<HTMLInputElement>(null);

  // `#/fleet/<tenant>/<region>` (a link from Incidents) picks that row.
  useEffect(() => {
    const pickFromHash = () => {
      const [, tenant, region] = location.hash.replace(/^#\/?/, '').split('/');
      if (tenant && region) {
        const key = rowKey({ tenant: decodeURIComponent(tenant), region: decodeURIComponent(region) });
        setSelectedKey(key);
        setCursorKey(key);
      }
    };
    pickFromHash();
    window.addEventListener('hashchange', pickFromHash);
    return () => window.removeEventListener('hashchange', pickFromHash);
  }, []);

  const visible = useMemo(
    () => filterRows(rows, { text, healths, tier, region, model }),
    [rows, text, healths, tier, region, model],
  );
  const choices = useMemo(
    () => ({
      tiers: distinct(rows, (r) => r.tier),
      regions: distinct(rows, (r) => r.region),
      models: distinct(rows, (r) => r.model),
    }),
    [rows],
  );
  const open = (row: TenantHealth) => {
    location.hash = `#/tenant/${encodeURIComponent(row.tenant)}/${encodeURIComponent(row.region)}`;
  };

  // The first drawn rows end the cold start: the Rust side logs how long it took.
  const told = useRef(false);
  useEffect(() => {
    if (told.current || overview === null) return;
    told.current = true;
    requestAnimationFrame(() => requestAnimationFrame(() => void uiReady(rows.length).catch(() => undefined)));
  }, [overview]);
  const perHealth = useMemo(() => countByHealth(rows), [rows]);

  const selected: TenantHealth | null = rows.find((r) => rowKey(r) === selectedKey) ?? rows[0] ?? null;
  const selectedRowKey = selected ? rowKey(selected) : null;
  const cursorIndex = cursorPosition(visible, cursorKey, selectedRowKey);
  const cursorRow = visible[cursorIndex] ?? null;

  const pick = (row: TenantHealth) => {
    setSelectedKey(rowKey(row));
    setCursorKey(rowKey(row));
  };

  const toggleHealth = (health: Health) =>
    setHealths((current) => {
      const next = new Set(current);
      if (next.has(health)) next.delete(health);
      else next.add(health);
      return next;
    });

  // The listener lives on the document (so `/` works from anywhere) and reads
  // the latest render's values through this ref.
  const onKey = useRef<(event: KeyboardEvent) => void>(() => {});
  onKey.current = (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target instanceof HTMLElement ? event.target : null;
    const inFilter = target !== null && target === filterInput.current;
    const editing =
      !inFilter &&
      target !== null &&
      (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
    if (editing) return;

    if (event.key === '/' && !inFilter) {
      event.preventDefault();
      filterInput.current?.focus();
      filterInput.current?.select();
      return;
    }
    if (inFilter && event.key === 'Escape') {
      event.preventDefault();
      if (text !== '') setText('');
      else filterInput.current?.blur();
      return;
    }
    // Buttons, links and disclosures keep Enter for themselves.
    const activates = target !== null && ['BUTTON', 'A', 'SUMMARY'].includes(target.tagName);
    if (visible.length === 0 || (activates && event.key === 'Enter')) return;

    const moveTo = (index: number) => {
      const row = visible[Math.max(0, Math.min(visible.length - 1, index))];
      if (row) setCursorKey(rowKey(row));
    };
    switch (event.key) {
      case 'ArrowDown':
        moveTo(cursorIndex + 1);
        break;
      case 'ArrowUp':
        moveTo(cursorIndex - 1);
        break;
      case 'PageDown':
        moveTo(cursorIndex + PAGE_ROWS);
        break;
      case 'PageUp':
        moveTo(cursorIndex - PAGE_ROWS);
        break;
      case 'Home':
        if (inFilter) return;
        moveTo(0);
        break;
      case 'End':
        if (inFilter) return;
        moveTo(visible.length - 1);
        break;
      case 'Enter':
        // Enter on the row already charted opens its tenant.
        if (cursorRow && rowKey(cursorRow) === selectedRowKey) open(cursorRow);
        else if (cursorRow) pick(cursorRow);
        break;
      default:
        return;
    }
    event.preventDefault();
  };
  useEffect(() => {
    const listener = (event: KeyboardEvent) => onKey.current(event);
    document.addEventListener('keydown', listener);
    return () => document.removeEventListener('keydown', listener);
  }, []);

  const neverSynced = overview !== null && overview.last_sync === null && sync.last === null;

  return (
    <div class="fleet-view">
      <KpiStrip overview={overview} onHealth={(h) => setHealths(new Set([h]))} />
      <div class={selected ? 'fleet-body' : 'fleet-body no-panel'}>
        <section class="table-pane" aria-label="Tenant-regions">
          <div class="toolbar">
            <FilterBox
              inputRef={filterInput}
              id="filter"
              placeholder="Filter by name, id, region, tier, model   ( / )"
              label="Filter tenants"
              value={text}
              onInput={setText}
            />
            <div class="chips" role="group" aria-label="Show only">
              {HEALTHS.map((health) => (
                <button
                  type="button"
                  key={health}
                  id={`chip-${health}`}
                  class={`chip health-${health}`}
                  data-health={health}
                  aria-pressed={healths.has(health)}
                  onClick={() => toggleHealth(health)}
                >
                  <span class="glyph" aria-hidden="true">
                    {HEALTH_GLYPH[health]}
                  </span>
                  {health} <span class="chip-count">{perHealth[health]}</span>
                </button>
              ))}
            </div>
            <Select id="filter-tier" label="Tier" value={tier} options={choices.tiers} onChange={setTier} />
            <Select id="filter-region" label="Region" value={region} options={choices.regions} onChange={setRegion} />
            <Select id="filter-model" label="Model" value={model} options={choices.models} onChange={setModel} />
            {overview?.changes && (
              <span id="changes" class="row-count" data-new-critical={overview.changes.new_critical} data-recovered={overview.changes.recovered}>
                {changesLine(overview.changes)}
              </span>
            )}
            <span id="row-count" class="row-count muted">
              {visible.length === rows.length ? `${rows.length} rows` : `${visible.length} of ${rows.length} rows`}
            </span>
            <div class="segmented" role="group" aria-label="Show as">
              <button type="button" id="show-table" aria-pressed={mode === 'table'} onClick={() => setMode('table')}>
                Table
              </button>
              <button type="button" id="show-heatmap" aria-pressed={mode === 'heatmap'} onClick={() => setMode('heatmap')}>
                Heatmap
              </button>
            </div>
            <ExportButton
              id="export-fleet"
              table={() => ({
                name: 'fleet-health',
                header: ['tenant', 'name', 'tier', 'model', 'region', 'health', 'reasons'],
                rows: visible.map((r) => [r.tenant, r.name, r.tier, r.model, r.region, r.health, r.reasons.join('; ')]),
              })}
            />
          </div>
          {overview === null ? (
            state.overviewError ? (
              state.overviewError.code === 'setup' ? (
                <div class="empty" id="setup-failed">
                  <p class="empty-title">fleetdeck could not start on this fleet.</p>
                  <pre class="setup-error">{state.overviewError.message}</pre>
                  <p class="muted">Fix the file and start fleetdeck again, or run it with --demo.</p>
                </div>
              ) : (
                <div class="empty" id="load-failed">
                  <p class="empty-title">The fleet could not be read from the cache.</p>
                  <p class="muted">{state.overviewError.message}</p>
                  <button type="button" id="retry" class="button" onClick={state.reload}>
                    Try again
                  </button>
                </div>
              )
            ) : (
              <p class="empty" id="loading-state">
                Loading the fleet…
              </p>
            )
          ) : rows.length === 0 ? (
            <EmptyState neverSynced={neverSynced} syncing={sync.running} />
          ) : mode === 'heatmap' ? (
            <Heatmap state={state} rows={visible} fold={region === ''} selected={selectedRowKey} onPick={pick} onOpen={open} />
          ) : (
            <FleetTable
              rows={visible}
              total={rows.length}
              cursor={cursorRow ? rowKey(cursorRow) : null}
              selected={selectedRowKey}
              now={now}
              onPick={pick}
              onOpen={open}
            />
          )}
        </section>
        {selected && <ChartPanel row={selected} state={state} version={overview?.last_sync ?? null} />}
      </div>
    </div>
  );
}

/** Where the cursor is: where it was put, else on the selection, else the top. */
function cursorPosition(visible: readonly TenantHealth[], cursorKey: string | null, selectedKey: string | null): number {
  for (const key of [cursorKey, selectedKey]) {
    if (key === null) continue;
    const index = visible.findIndex((row) => rowKey(row) === key);
    if (index >= 0) return index;
  }
  return 0;
}

function EmptyState({ neverSynced, syncing }: { neverSynced: boolean; syncing: boolean }) {
  return (
    <div id="empty-state" class="empty">
      {neverSynced ? (
        <>
          <p class="empty-title">Waiting for the first sync…</p>
          <p class="muted">
            {syncing
              ? 'fleetdeck is reading every tenant account and region; progress is shown at the top.'
              : 'Press Sync now to read the fleet.'}
          </p>
        </>
      ) : (
        <>
          <p class="empty-title">No tenant data in the cache.</p>
          <p class="muted">The last sync committed nothing for any tenant. Its failures are listed at the top.</p>
        </>
      )}
    </div>
  );
}

function Select({
  id,
  label,
  value,
  options,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  options: readonly string[];
  onChange(value: string): void;
}) {
  return (
    <select id={id} class="select" aria-label={label} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">{`Any ${label.toLowerCase()}`}</option>
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

/** "since 10:05: 2 new critical, 1 recovered" (or "no change"). */
function changesLine(c: HealthChanges): string {
  const parts = [
    c.new_critical > 0 ? `${c.new_critical} new critical` : '',
    c.new_degraded > 0 ? `${c.new_degraded} new degraded` : '',
    c.recovered > 0 ? `${c.recovered} recovered` : '',
    c.other > 0 ? `${c.other} other ${c.other === 1 ? 'change' : 'changes'}` : '',
  ].filter((p) => p !== '');
  return `since ${shortTime(c.since)}: ${parts.length === 0 ? 'no change' : parts.join(', ')}`;
}
