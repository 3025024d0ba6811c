/**
 * Cost: what each tenant costs this month against last month, the
 * month-end forecast and the change, sortable by any column; untagged spend
 * and the fleet total beside it. For the account manager's "what does acme
 * cost us, and who moved?".
 */
import { useMemo, useState } from 'preact/hooks';
import type { TenantCostRow } from '../../bindings/TenantCostRow';
import { ExportButton } from '../../components/ExportButton';
import { useCached } from '../../components/useCached';
import { plural } from '../../format';
import { costOverview } from '../../ipc';
import type { ViewProps } from '../../routes';

type Key = 'tenant' | 'tier' | 'month_to_date' | 'last_month' | 'forecast' | 'change';

const COLUMNS: readonly { key: Key; label: string; numeric: boolean }[] = [
  { key: 'tenant', label: 'Tenant', numeric: false },
  { key: 'tier', label: 'Tier', numeric: false },
  { key: 'month_to_date', label: 'Month to date', numeric: true },
  { key: 'last_month', label: 'Last month', numeric: true },
  { key: 'forecast', label: 'Forecast', numeric: true },
  { key: 'change', label: 'Change', numeric: true },
];

/** "$12,345.67": grouped by hand, as the webview may have no locale data. */
export function money(v: number): string {
  const [whole, cents] = Math.abs(v).toFixed(2).split('.');
  const grouped = (whole ?? '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${v < 0 ? '−' : ''}$${grouped}.${cents ?? '00'}`;
}

export const change = (c: number | null) => (c === null ? '–' : `${c >= 0 ? '+' : '−'}${Math.abs(c * 100).toFixed(1)} %`);

function value(row: TenantCostRow, key: Key): string | number {
  switch (key) {
    case 'tenant':
      return row.name.toLowerCase();
    case 'tier':
      return row.tier;
    case 'change':
      return row.cost.change ?? Number.NEGATIVE_INFINITY;
    default:
      return row.cost[key];
  }
}

export function CostView({ state }: ViewProps) {
  const { data, error } = useCached(state, costOverview);
  const [sort, setSort] = useState<{ key: Key; descending: boolean }>({ key: 'forecast', descending: true });
  const rows = useMemo(() => {
    const out = [...(data?.rows ?? [])];
    out.sort((a, b) => {
      const [x, y] = [value(a, sort.key), value(b, sort.key)];
      const order = x < y ? -1 : x > y ? 1 : a.tenant.localeCompare(b.tenant);
      return sort.descending ? -order : order;
    });
    return out;
  }, [data, sort]);
  const movers = useMemo(
    () =>
      [...(data?.rows ?? [])]
        .filter((r) => r.cost.change !== null)
        .sort((a, b) => Math.abs(b.cost.change ?? 0) - Math.abs(a.cost.change ?? 0))
        .slice(0, 5),
    [data],
  );
  const pick = (key: Key) =>
    setSort((s) => (s.key === key ? { key, descending: !s.descending } : { key, descending: COLUMNS.find((c) => c.key === key)?.numeric ?? false }));

  return (
    <div class="cost-view">
      <section class="kpis" aria-label="Fleet cost">
        <Figure id="kpi-cost-mtd" label={`Month to date${data ? ` (to ${data.today})` : ''}`} value={data?.total.month_to_date} />
        <Figure id="kpi-cost-forecast" label="Forecast, month end" value={data?.total.forecast} note={data ? change(data.total.change) : ''} />
        <Figure id="kpi-cost-last" label="Last month" value={data?.total.last_month} />
        <Figure id="kpi-cost-untagged" label="Untagged (no tenant)" value={data?.untagged.month_to_date} />
      </section>
      {error && (
        <p id="error-banner" class="notice" role="alert">
          Could not read the cost: {error.message}
        </p>
      )}
      <div class="cost-body">
        <section class="table-pane" aria-label="Cost per tenant">
          <div class="toolbar">
            <span class="row-count">{plural(rows.length, 'tenant')}</span>
            <ExportButton
              id="export-cost"
              table={() => ({
                name: 'cost',
                header: ['tenant', 'name', 'tier', 'month_to_date', 'last_month', 'forecast', 'change'],
                rows: rows.map((r) => [
                  r.tenant,
                  r.name,
                  r.tier,
                  r.cost.month_to_date.toFixed(2),
                  r.cost.last_month.toFixed(2),
                  r.cost.forecast.toFixed(2),
                  r.cost.change === null ? '' : r.cost.change.toFixed(4),
                ]),
              })}
            />
            <span class="muted">Forecast: the last 7 closed days' run rate to month end. Change: forecast against last month.</span>
          </div>
          <div class="table-scroll" tabIndex={0}>
            <table id="cost-table" class="fleet-table">
              <thead>
                <tr>
                  {COLUMNS.map((c) => (
                    <th
                      scope="col"
                      key={c.key}
                      class={c.numeric ? 'num' : ''}
                      aria-sort={sort.key === c.key ? (sort.descending ? 'descending' : 'ascending') : 'none'}
                    >
                      <button type="button" id={`sort-${c.key}`} class="sort" onClick={() => pick(c.key)}>
                        {c.label}
                        <span class="glyph" aria-hidden="true">
                          {sort.key === c.key ? (sort.descending ? ' ▼' : ' ▲') : ''}
                        </span>
                      </button>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.tenant} class="row" data-tenant={r.tenant} data-change={r.cost.change ?? ''}>
                    <td>
                      <div class="tenant-name">{r.name}</div>
                      <div class="tenant-id muted">{r.tenant}</div>
                    </td>
                    <td>{r.tier}</td>
                    <td class="num">{money(r.cost.month_to_date)}</td>
                    <td class="num">{money(r.cost.last_month)}</td>
                    <td class="num">{money(r.cost.forecast)}</td>
                    <td class={`num ${(r.cost.change ?? 0) > 0.2 ? 'up' : ''}`}>{change(r.cost.change)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section class="chart-pane" aria-label="Top movers">
          <h2 class="pane-head">Top movers</h2>
          <ol id="top-movers" class="movers">
            {movers.map((r) => (
              <li key={r.tenant} data-tenant={r.tenant}>
                <span class="tenant-name">{r.name}</span> <span class="mono">{change(r.cost.change)}</span>{' '}
                <span class="muted">
                  {money(r.cost.last_month)} → {money(r.cost.forecast)}
                </span>
              </li>
            ))}
          </ol>
        </section>
      </div>
    </div>
  );
}

function Figure({ id, label, value, note }: { id: string; label: string; value: number | undefined; note?: string }) {
  return (
    <div id={id} class="kpi stacked">
      <span class="kpi-value">{value === undefined ? '–' : money(value)}</span>
      <span class="kpi-label">
        {label}
        {note ? ` ${note}` : ''}
      </span>
    </div>
  );
}
