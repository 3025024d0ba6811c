/**
 * Cost: what each tenant costs this month against last month, the
 * month-end forecast and the change, its share of pooled infrastructure
 * and its cost per million units of usage, sortable by any column; the
 * fleet's spend by service, its top movers, its cost anomalies and its
 * untagged spend beside it. For the account manager's "what does acme cost
 * us, and who moved?".
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import type { TenantCostRow } from '../../bindings/TenantCostRow';
import { CostChart } from '../../components/CostChart';
import { ExportButton } from '../../components/ExportButton';
import { FilterBox } from '../../components/FilterBox';
import { useCached } from '../../components/useCached';
import { useProgressive } from '../../components/useProgressive';
import { useTableKeys } from '../../components/useTableKeys';
import { dollars as money, percentChange as change, plural, shortTime } from '../../format';
import { costOverview } from '../../ipc';
import type { ViewProps } from '../../routes';

type Key = 'tenant' | 'tier' | 'month_to_date' | 'last_month' | 'forecast' | 'change' | 'apportioned' | 'cost_per_million';

const COLUMNS: readonly { key: Key; label: string; numeric: boolean; title?: string }[] = [
  { key: 'tenant', label: 'Tenant', numeric: false },
  { key: 'tier', label: 'Tier', numeric: false },
  { key: 'month_to_date', label: 'Month to date', numeric: true, title: "What the tenant's own tag or account carries" },
  { key: 'apportioned', label: 'Shared infra', numeric: true, title: 'Its share of pooled infrastructure, by usage' },
  { key: 'last_month', label: 'Last month', numeric: true },
  { key: 'forecast', label: 'Forecast', numeric: true },
  { key: 'change', label: 'Change', numeric: true },
  { key: 'cost_per_million', label: 'Per M units', numeric: true, title: "The month's forecast (shared part included) per million units of the month's usage at the rate measured so far" },
];

function value(row: TenantCostRow, key: Key): string | number {
  switch (key) {
    case 'tenant':
      return row.name.toLowerCase();
    case 'tier':
      return row.tier;
    case 'change':
      return row.cost.change ?? Number.NEGATIVE_INFINITY;
    case 'apportioned':
      return row.apportioned;
    case 'cost_per_million':
      return row.cost_per_million ?? Number.NEGATIVE_INFINITY;
    default:
      return row.cost[key];
  }
}

export function CostView({ state }: ViewProps) {
  const { data, error } = useCached(state, costOverview);
  const [sort, setSort] = useState<{ key: Key; descending: boolean }>({ key: 'forecast', descending: true });
  const [text, setText] = useState('');
  const rows = useMemo(() => {
    const terms = text.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
    const out = (data?.rows ?? []).filter((r) => {
      const hay = `${r.name}\n${r.tenant}\n${r.tier}\n${r.model}`.toLowerCase();
      return terms.every((t) => hay.includes(t));
    });
    out.sort((a, b) => {
      const [x, y] = [value(a, sort.key), value(b, sort.key)];
      const order = x < y ? -1 : x > y ? 1 : a.tenant.localeCompare(b.tenant);
      return sort.descending ? -order : order;
    });
    return out;
  }, [data, sort, text]);
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
  const box = useRef<HTMLDivElement>(null);
  const cursor = useTableKeys(box, rows.length, (i) => {
    const r = rows[i];
    if (r) location.hash = `#/tenant/${encodeURIComponent(r.tenant)}`;
  });
  const unit = data?.usage_metric ?? 'requests';
  const { drawn, sentinel } = useProgressive(rows.length, cursor);

  return (
    <div class="cost-view">
      <section class="kpis" aria-label="Fleet cost">
        <Figure id="kpi-cost-mtd" label={`Month to date${data ? ` (to ${data.today})` : ''}`} value={data?.total.month_to_date} />
        <Figure id="kpi-cost-forecast" label="Forecast, month end" value={data?.total.forecast} note={data ? change(data.total.change) : ''} />
        <Figure id="kpi-cost-last" label="Last month" value={data?.total.last_month} />
        <Figure id="kpi-cost-untagged" label="Untagged (no tenant)" value={data?.untagged.month_to_date} />
        {data?.apportion && (
          <Figure
            id="kpi-cost-shared"
            label={`Pools shared out to ${plural(data.apportion.tenants, 'tenant')}`}
            value={data.apportion.shared_month_to_date}
          />
        )}
        {data?.apportion && (
          <Figure id="kpi-cost-overhead" label="Fleet overhead (not charged)" value={data.apportion.overhead_month_to_date} />
        )}
      </section>
      {error && (
        <p id="error-banner" class="notice" role="alert">
          Could not read the cost: {error.message}
        </p>
      )}
      {data?.reading && (
        <p id="cost-reading" class="notice" role="status">
          The bill is not read whole yet: {data.reading}
        </p>
      )}
      <div class="cost-body">
        <section class="table-pane" aria-label="Cost per tenant">
          <div class="toolbar">
            <FilterBox id="cost-filter" placeholder="Filter tenants   ( / )" label="Filter tenants" value={text} onInput={setText} />
            <span class="row-count" id="cost-view-count" data-count={rows.length}>
              {plural(rows.length, 'tenant')}
            </span>
            <ExportButton
              id="export-cost"
              table={() => ({
                name: 'cost',
                header: ['tenant', 'name', 'tier', 'month_to_date', 'apportioned', 'last_month', 'forecast', 'change', `cost_per_million_${unit}`],
                rows: rows.map((r) => [
                  r.tenant,
                  r.name,
                  r.tier,
                  r.not_on_bill ? 'not on your bill' : r.cost.month_to_date.toFixed(2),
                  r.apportioned.toFixed(2),
                  r.cost.last_month.toFixed(2),
                  r.cost.forecast.toFixed(2),
                  r.cost.change === null ? '' : r.cost.change.toFixed(4),
                  r.cost_per_million === null ? '' : r.cost_per_million.toFixed(4),
                ]),
              })}
            />
            <span class="muted small">
              Forecast: the last 7 closed days' run rate to month end. Change: forecast against last month. Per M units: the
              forecast per million {unit} of the month at the rate measured so far.
            </span>
          </div>
          <div class="table-scroll" tabIndex={0} ref={box} aria-label="Cost per tenant. Arrow keys move, Enter opens the tenant.">
            <table id="cost-table" class="fleet-table">
              <thead>
                <tr>
                  {COLUMNS.map((c) => (
                    <th
                      scope="col"
                      key={c.key}
                      class={c.numeric ? 'num' : ''}
                      title={c.title}
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
                {rows.slice(0, drawn).map((r, i) => (
                  <tr
                    key={r.tenant}
                    class={i === cursor ? 'row is-cursor' : 'row'}
                    data-cursor={i === cursor ? 'true' : undefined}
                    data-tenant={r.tenant}
                    data-change={r.cost.change ?? ''}
                    onDblClick={() => (location.hash = `#/tenant/${encodeURIComponent(r.tenant)}`)}
                  >
                    <td>
                      <div class="tenant-name">{r.name}</div>
                      <div class="tenant-id muted">{r.tenant}</div>
                    </td>
                    <td>{r.tier}</td>
                    <td class="num" data-not-on-bill={r.not_on_bill ? 'true' : undefined}>
                      {r.not_on_bill ? <span class="muted" title="A customer-owned account outside your organization: AWS bills the customer">not on your bill</span> : money(r.cost.month_to_date)}
                    </td>
                    <td class="num">{r.apportioned > 0 ? money(r.apportioned) : <span class="muted">–</span>}</td>
                    <td class="num">{money(r.cost.last_month)}</td>
                    <td class="num">{money(r.cost.forecast)}</td>
                    <td class={`num ${(r.cost.change ?? 0) > 0.2 ? 'up' : ''}`}>{change(r.cost.change)}</td>
                    <td class="num">{r.cost_per_million === null ? <span class="muted">–</span> : money(r.cost_per_million)}</td>
                  </tr>
                ))}
                {drawn < rows.length && (
                  <tr ref={sentinel} class="no-match">
                    <td colSpan={8}>{rows.length - drawn} more tenants…</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </section>
        <section class="chart-pane cost-side" aria-label="Fleet spend">
          <h2 class="pane-title">Spend by service</h2>
          <CostChart id="fleet-cost-chart" tenant={null} state={state} />
          <h2 class="pane-title">Top movers</h2>
          <ol id="top-movers" class="movers">
            {movers.map((r) => (
              <li key={r.tenant} data-tenant={r.tenant}>
                <a href={`#/tenant/${encodeURIComponent(r.tenant)}`} class="tenant-name">
                  {r.name}
                </a>{' '}
                <span class="mono">{change(r.cost.change)}</span>{' '}
                <span class="muted">
                  {money(r.cost.last_month)} → {money(r.cost.forecast)}
                </span>
              </li>
            ))}
          </ol>
          <h2 class="pane-title">Cost anomalies, 14 days</h2>
          <ul id="cost-anomalies" class="incident-list">
            {(data?.anomalies ?? []).map((a) => (
              <li
                key={`${a.tenant}/${a.subject}/${a.start}`}
                data-tenant={a.tenant}
                data-changed={data?.changed.includes(`${a.tenant}/${a.subject}/${a.start}`) ? 'true' : undefined}
              >
                <a href={`#/tenant/${encodeURIComponent(a.tenant)}`}>{data?.rows.find((r) => r.tenant === a.tenant)?.name ?? a.tenant}</a>{' '}
                {data?.changed.includes(`${a.tenant}/${a.subject}/${a.start}`) && (
                  <span class="changed small" title="new or changed since the sync before">
                    new{' '}
                  </span>
                )}
                <span class="muted">since {shortTime(a.start)}</span>{' '}
                {a.end === null ? <span class="ongoing">ongoing</span> : <span class="muted">to {shortTime(a.end)}</span>}
                <div class="incident-title">{a.title}</div>
              </li>
            ))}
            {data && data.anomalies.length === 0 && <li class="muted">None: every tenant's daily spend is within its usual range.</li>}
          </ul>
          {data?.apportion && (
            <p class="muted small" id="apportion-note">
              Untagged spend of {data.apportion.services.length === 0 ? 'every service' : data.apportion.services.join(', ')} in
              an account several tenants live in ({plural(data.apportion.pools, 'pool')},{' '}
              {money(data.apportion.shared_month_to_date)} this month) goes to those tenants only, in proportion to their{' '}
              {data.apportion.metric}
              {data.apportion.by_model.length > 0 ? ` (by model: ${data.apportion.by_model.join(', ')})` : ''}. Untagged spend of
              accounts no tenant lives in (payer, security, tooling: {money(data.apportion.overhead_month_to_date)}) is fleet
              overhead, shown and not charged.
            </p>
          )}
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
