/**
 * Sources: is fleetdeck reading everything it should? One row per tenant,
 * region and source (credentials, metrics, alarms, logs, cost), failures
 * first, each with the AWS error, its fix and when it was last read fine;
 * what the last sync cost in calls and dollars; and what keeping the
 * console open costs a day and a month, against the API budget.
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import type { SourceRow } from '../../bindings/SourceRow';
import type { SourceStatus } from '../../bindings/SourceStatus';
import { ApiSpend } from '../../components/ApiSpend';
import { ExportButton } from '../../components/ExportButton';
import { FilterBox } from '../../components/FilterBox';
import { useCached } from '../../components/useCached';
import { useProgressive } from '../../components/useProgressive';
import { useTableKeys } from '../../components/useTableKeys';
import { ago, plural, timestamp } from '../../format';
import { sources } from '../../ipc';
import type { ViewProps } from '../../routes';

/** How people call each source (the cache's names are identifiers). */
const SOURCE_LABEL: Record<string, string> = {
  credentials: 'credentials',
  metrics: 'metrics',
  alarms: 'alarms',
  alarm_history: 'alarm history',
  tags: 'tagged resources',
  logs: 'logs',
  cost: 'cost',
};

/** Every status Rust can send (the type makes a missing one a build error). */
const STATUS_LABEL: Record<SourceStatus, string> = {
  ok: 'ok',
  access_denied: 'access denied',
  throttled: 'throttled',
  expired: 'expired',
  unreachable: 'unreachable',
  no_credentials: 'no credentials',
  not_configured: 'not configured',
  clock_skew: 'clock skew',
  error: 'error',
};

export function SourcesView({ state }: ViewProps) {
  const { data, error } = useCached(state, sources);
  const [failingOnly, setFailingOnly] = useState(false);
  const [text, setText] = useState('');
  const rows = data?.rows ?? [];
  const failing = rows.filter((r) => r.status !== 'ok').length;
  const visible = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return rows.filter(
      (r) =>
        (!failingOnly || r.status !== 'ok') &&
        (needle === '' ||
          [r.tenant, r.name, r.region, r.source, r.status].some((f) => f.toLowerCase().includes(needle))),
    );
  }, [rows, failingOnly, text]);
  const last = data?.last_sync ?? null;
  const box = useRef<HTMLDivElement>(null);
  const cursor = useTableKeys(box, visible.length, (at) => {
    const r = visible[at];
    if (r && r.tenant !== '*') location.hash = `#/tenant/${encodeURIComponent(r.tenant)}${r.region === '*' ? '' : `/${encodeURIComponent(r.region)}`}`;
  });
  const { drawn, sentinel } = useProgressive(visible.length, cursor);
  const dollars = (data?.calls ?? []).reduce((sum, c) => sum + c.dollars, 0);

  return (
    <div class="sources-view">
      <section class="kpis" aria-label="Sources">
        <div id="kpi-sources-failing" class={`kpi health-critical${failing > 0 ? ' lit' : ''}`} data-count={failing}>
          <span class="kpi-value">{data ? failing : '–'}</span>
          <span class="kpi-label">Sources not ok</span>
        </div>
        <div class="kpi">
          <span class="kpi-value">{data ? rows.length : '–'}</span>
          <span class="kpi-label">Sources</span>
        </div>
        <div id="kpi-last-calls" class="kpi" title={last ? `Last sync finished ${timestamp(last.finished_at)}` : undefined}>
          <span class="kpi-value">{last ? last.api_calls.toLocaleString() : '–'}</span>
          <span class="kpi-label">API calls, last sync</span>
        </div>
        <div id="kpi-last-dollars" class="kpi">
          <span class="kpi-value">{last ? `$${dollars.toFixed(4)}` : '–'}</span>
          <span class="kpi-label">at list prices</span>
        </div>
        <div class="kpi calls-by-service">
          <span class="kpi-label">
            {(data?.calls ?? []).map((c) => `${c.service} ${c.calls.toLocaleString()} ($${c.dollars.toFixed(4)})`).join(' · ') ||
              'no sync yet'}
          </span>
        </div>
      </section>
      {error && (
        <p id="error-banner" class="notice" role="alert">
          Could not read the sources: {error.message}
        </p>
      )}
      {data && <ApiSpend spend={data.spend} />}
      <section class="table-pane" aria-label="Sources">
        <div class="toolbar">
          <FilterBox
            id="sources-filter"
            placeholder="Filter by tenant, region, source, status"
            label="Filter sources"
            value={text}
            onInput={setText}
          />
          <div class="chips" role="group" aria-label="Show only">
            <button
              type="button"
              id="chip-failing"
              class="chip health-critical"
              aria-pressed={failingOnly}
              onClick={() => setFailingOnly(!failingOnly)}
            >
              not ok <span class="chip-count">{failing}</span>
            </button>
          </div>
          <span class="row-count">{plural(visible.length, 'source')}</span>
          <ExportButton
            id="export-sources"
            table={() => ({
              name: 'sources',
              header: ['tenant', 'region', 'source', 'status', 'error', 'fix', 'last_good_read'],
              rows: visible.map((r) => [
                r.tenant,
                r.region,
                r.source,
                r.status,
                r.error ?? '',
                r.remediation ?? '',
                r.last_ok === null ? '' : new Date(r.last_ok).toISOString(),
              ]),
            })}
          />
        </div>
        <div class="table-scroll" tabIndex={0} ref={box} aria-label="Sources. Arrow keys move, Enter opens the tenant.">
          <table id="sources-table" class="fleet-table">
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Tenant</th>
                <th scope="col">Region</th>
                <th scope="col">Source</th>
                <th scope="col" class="col-error">Error and fix</th>
                <th scope="col">Last good read</th>
              </tr>
            </thead>
            <tbody>
              {visible.slice(0, drawn).map((r, at) => (
                <SourceLine key={`${r.tenant}/${r.region}/${r.source}`} row={r} now={state.now} cursor={at === cursor} />
              ))}
              {drawn < visible.length && (
                <tr ref={sentinel} class="no-match">
                  <td colSpan={6}>{visible.length - drawn} more sources…</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}

function SourceLine({ row, now, cursor }: { row: SourceRow; now: number; cursor: boolean }) {
  const ok = row.status === 'ok';
  return (
    <tr
      class={`row ${ok ? 'health-ok' : 'health-critical'}${cursor ? ' is-cursor' : ''}`}
      data-cursor={cursor ? 'true' : undefined}
      data-tenant={row.tenant}
      data-region={row.region}
      data-source={row.source}
      data-status={row.status}
    >
      <td>
        <span class={`badge ${ok ? 'health-ok' : 'health-critical'}`}>{STATUS_LABEL[row.status]}</span>
      </td>
      <td>
        <div class="tenant-name">{row.tenant === '*' ? 'whole fleet' : row.name}</div>
        {row.tenant !== '*' && <div class="tenant-id muted">{row.tenant}</div>}
      </td>
      <td class="mono">{row.region === '*' ? 'all' : row.region}</td>
      <td>{SOURCE_LABEL[row.source] ?? row.source}</td>
      <td class="col-error">
        {row.error && <div class="error-line">{row.error}</div>}
        {row.remediation && <div class="error-line muted">fix: {row.remediation}</div>}
        {row.detail && <div class="muted small source-detail">{row.detail}</div>}
      </td>
      <td title={row.last_ok !== null ? timestamp(row.last_ok) : undefined} class={ok ? '' : 'stale'}>
        {row.last_ok !== null ? ago(row.last_ok, now) : 'never'}
      </td>
    </tr>
  );
}
