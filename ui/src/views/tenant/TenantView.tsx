/**
 * One tenant, for the on-call engineer and the account manager: health by
 * region with its reasons, every catalog metric charted beside its tier's
 * median (anomalies shaded, alarm thresholds drawn), its alarms, the
 * triage queries' results (and a run-now for any time range), its
 * incidents, its cost, and links into the AWS console switched into its
 * role. `#/tenant/<id>/<region>`; the region defaults to the worst.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AlarmInfo } from '../../bindings/AlarmInfo';
import type { Incident } from '../../bindings/Incident';
import type { IpcError } from '../../bindings/IpcError';
import type { LogPanel } from '../../bindings/LogPanel';
import type { TenantHealth } from '../../bindings/TenantHealth';
import type { TenantView as TenantData } from '../../bindings/TenantView';
import { CostChart } from '../../components/CostChart';
import { ExportButton } from '../../components/ExportButton';
import { HealthBadge } from '../../components/HealthBadge';
import { MetricChart } from '../../components/MetricChart';
import { useTableKeys } from '../../components/useTableKeys';
import { ago, dollars, percentChange, shortTime, timestamp } from '../../format';
import { asIpcError, exportReport, openConsole, runTriage, tenantView } from '../../ipc';
import type { ViewProps } from '../../routes';
import type { ConsoleState } from '../../state/console';

/** `#/tenant/<id>/<region>` -> its parts. */
export function tenantRoute(hash: string): { tenant: string; region: string | null } {
  const [, tenant, region] = hash.replace(/^#\/?/, '').split('/');
  return { tenant: decodeURIComponent(tenant ?? ''), region: region ? decodeURIComponent(region) : null };
}

export function TenantView({ state }: ViewProps) {
  const [route, setRoute] = useState(() => tenantRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(tenantRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const [data, setData] = useState<TenantData | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const version = state.overview?.last_sync ?? null;

  useEffect(() => {
    if (route.tenant === '') return;
    let current = true;
    tenantView(route.tenant).then(
      (d) => {
        if (!current) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => {
        if (current) setError(asIpcError(e));
      },
    );
    return () => {
      current = false;
    };
  }, [route.tenant, version]);

  if (route.tenant === '') {
    return (
      <div class="empty" id="tenant-none">
        <p class="empty-title">No tenant chosen.</p>
        <p class="muted">Pick one on the Fleet view, or press Ctrl+K and type its name.</p>
      </div>
    );
  }
  if (error && (data === null || data.tenant.id !== route.tenant)) {
    return (
      <div class="empty" id="tenant-error">
        <p class="empty-title">{error.code === 'not_found' ? 'No such tenant in the cache.' : 'The tenant could not be read.'}</p>
        <p class="muted">{error.message}</p>
      </div>
    );
  }
  if (data === null || data.tenant.id !== route.tenant) {
    return <p class="empty" id="tenant-loading">Loading {route.tenant}…</p>;
  }
  return <Tenant data={data} region={route.region} state={state} version={version} />;
}

function Tenant({ data, region: asked, state, version }: { data: TenantData; region: string | null; state: ConsoleState; version: number | null }) {
  const t = data.tenant;
  const worst = worstRegion(data.regions);
  const region = asked && data.regions.some((r) => r.region === asked) ? asked : (worst?.region ?? t.home_region);
  const here = data.regions.find((r) => r.region === region) ?? null;
  const pickRegion = (r: string) => {
    location.hash = `#/tenant/${encodeURIComponent(t.id)}/${encodeURIComponent(r)}`;
  };
  // Metrics in trouble first: the focus metric, then those with thresholds.
  const metrics = useMemo(() => {
    const focus = here?.focus_metric ?? null;
    return [...data.metrics].sort(
      (a, b) =>
        Number(b.key === focus) - Number(a.key === focus) ||
        Number(b.critical_above !== null) - Number(a.critical_above !== null),
    );
  }, [data.metrics, here?.focus_metric]);

  return (
    <div class="tenant-view" id="tenant-view" data-tenant={t.id}>
      <header class="tenant-head">
        <a href="#/fleet" class="back muted" title="Back to the fleet (Alt+←)">
          ‹ Fleet
        </a>
        {worst && <HealthBadge health={worst.health} />}
        <h2 id="tenant-name" class="tenant-title">
          {t.name}
        </h2>
        <span class="muted mono">{t.id}</span>
        <span class="tenant-facts muted">
          {t.tier} · {t.model} · account <span class="mono">{t.account}</span> · home {t.home_region}
          {t.residency && (
            <span class="pill" id="residency" title="Raw log lines are never cached for this tenant; cached text is redacted">
              data residency
            </span>
          )}
          {!t.active && <span class="pill">no longer in the fleet file</span>}
          {data.fresh_at !== null && (
            <span title={timestamp(data.fresh_at)}> · data {ago(data.fresh_at, state.now)}</span>
          )}
        </span>
        <ReportButton tenant={t.id} />
      </header>

      <nav class="region-tabs" aria-label="Regions" id="region-tabs">
        {data.regions.map((r) => (
          <button
            type="button"
            key={r.region}
            class={`region-tab health-${r.health}`}
            aria-pressed={r.region === region}
            data-region={r.region}
            data-health={r.health}
            data-was={r.was ?? undefined}
            onClick={() => pickRegion(r.region)}
          >
            <HealthBadge health={r.health} />
            <span class="mono">{r.region}</span>
            {r.region === t.home_region && <span class="muted"> home</span>}
            {r.was !== null && (
              <span class="changed small" title={`changed since the sync before: was ${r.was}`}>
                {' '}
                was {r.was}
              </span>
            )}
          </button>
        ))}
      </nav>

      <div class="tenant-body">
        <section class="tenant-main">
          {here && (
            <section class="panel why" id="region-reasons">
              <h3>
                Why {here.health} in {here.region}
              </h3>
              <ul>
                {here.reasons.map((reason, i) => (
                  <li key={i}>{reason}</li>
                ))}
              </ul>
            </section>
          )}
          <section class="chart-grid" id="tenant-charts" aria-label="Metrics">
            {metrics.map((m) => (
              <MetricChart
                key={`${region}/${m.key}`}
                id={`chart-${m.key}`}
                subject={{ tenant: t.id, region, metric: m.key }}
                state={state}
                version={version}
                aspect={0.58}
              />
            ))}
            {metrics.length === 0 && <p class="muted">The catalog charts no metric for {t.model} tenants.</p>}
          </section>
          <Logs data={data} region={region} state={state} />
        </section>

        <aside class="tenant-side">
          <Alarms alarms={data.alarms} tenant={data.tenant} />
          <Incidents incidents={data.incidents} />
          <Cost data={data} state={state} />
          <Console data={data} region={region} />
          <Resources data={data} region={region} />
        </aside>
      </div>
    </div>
  );
}

function worstRegion(regions: readonly TenantHealth[]): TenantHealth | null {
  const rank = { critical: 3, degraded: 2, unknown: 1, ok: 0 } as const;
  return regions.reduce<TenantHealth | null>((w, r) => (w === null || rank[r.health] > rank[w.health] ? r : w), null);
}

function ReportButton({ tenant }: { tenant: string }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const save = async () => {
    setStatus(null);
    try {
      setStatus({ ok: true, text: `Saved to ${await exportReport(tenant, 30, 'pdf')}` });
    } catch (e) {
      setStatus({ ok: false, text: `Not saved: ${asIpcError(e).message}` });
    }
  };
  return (
    <span class="export report-export">
      <button type="button" class="button" id="tenant-report" onClick={() => void save()} title="This tenant's 30-day report, as PDF">
        Report (PDF)
      </button>
      {status && (
        <span id="tenant-report-status" class={status.ok ? 'muted' : 'stale'} role="status" data-ok={status.ok}>
          {status.text}
        </span>
      )}
    </span>
  );
}

function Alarms({ alarms, tenant }: { alarms: readonly AlarmInfo[]; tenant: TenantData['tenant'] }) {
  const box = useRef<HTMLDivElement>(null);
  const cursor = useTableKeys(box, alarms.length, () => undefined);
  return (
    <section class="panel" id="tenant-alarms" aria-label="Alarms">
      <div class="panel-head">
        <h3>Alarms</h3>
        <span class="muted">{alarms.filter((a) => a.state === 'ALARM').length} in ALARM</span>
        <ExportButton
          id="export-alarms"
          table={() => ({
            name: 'tenant-alarms',
            header: ['region', 'name', 'state', 'since', 'metric', 'threshold', 'reason'],
            rows: alarms.map((a) => [a.region, a.name, a.state, a.since === null ? '' : timestamp(a.since), a.metric ?? '', a.threshold === null ? '' : String(a.threshold), a.reason]),
          })}
        />
      </div>
      {tenant.own_alarms_hidden && (
        <p class="muted small" id="alarms-hidden">
          Alarms in account {tenant.account} are not visible: this tenant is read through the monitoring account{' '}
          {tenant.monitoring_account}, whose link shares metrics and logs, not alarms. Shown: the monitoring account's
          alarms on its metrics. Give the tenant a role (role_name in the fleet file) to read its own.
        </p>
      )}
      <div class="table-scroll short" ref={box} tabIndex={0}>
        <table class="compact" id="alarms-table">
          <tbody>
            {alarms.map((a, i) => (
              <tr key={`${a.region}/${a.name}`} data-state={a.state} data-cursor={i === cursor ? 'true' : undefined} class={i === cursor ? 'is-cursor' : undefined}>
                <td>
                  <span class={`state state-${a.state.toLowerCase()}`}>{a.state}</span>
                </td>
                <td>
                  <div class="alarm-name">{a.name}</div>
                  <div class="muted small" title={a.reason}>
                    {a.region}
                    {a.since !== null && ` · since ${shortTime(a.since)}`}
                    {a.threshold !== null && ` · threshold ${a.threshold}`}
                  </div>
                </td>
              </tr>
            ))}
            {alarms.length === 0 && (
              <tr>
                <td class="muted">No alarms read for this tenant.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Incidents({ incidents }: { incidents: readonly Incident[] }) {
  const box = useRef<HTMLDivElement>(null);
  const cursor = useTableKeys(box, incidents.length, (i) => {
    const inc = incidents[i];
    if (inc && inc.region !== '*') location.hash = `#/tenant/${encodeURIComponent(inc.tenant)}/${encodeURIComponent(inc.region)}`;
  });
  return (
    <section class="panel" id="tenant-incidents" aria-label="Incidents, 7 days">
      <div class="panel-head">
        <h3>Incidents, 7 days</h3>
        <span class="muted">{incidents.length}</span>
      </div>
      <div class="table-scroll short" ref={box} tabIndex={0}>
        <ul class="incident-list">
          {incidents.map((inc, i) => (
            <li
              key={`${inc.kind}/${inc.region}/${inc.subject}/${inc.start}`}
              data-kind={inc.kind}
              data-region={inc.region}
              data-cursor={i === cursor ? 'true' : undefined}
              class={i === cursor ? 'is-cursor' : undefined}
            >
              <span class={`kind kind-${inc.kind}`}>{inc.kind}</span> <span class="muted">{shortTime(inc.start)}</span>{' '}
              {inc.end === null ? <span class="ongoing">ongoing</span> : <span class="muted">to {shortTime(inc.end)}</span>}
              <div class="incident-title">{inc.title}</div>
            </li>
          ))}
          {incidents.length === 0 && <li class="muted">Nothing in the last 7 days.</li>}
        </ul>
      </div>
    </section>
  );
}

function Cost({ data, state }: { data: TenantData; state: ConsoleState }) {
  const c = data.cost;
  return (
    <section class="panel" id="tenant-cost" aria-label="Cost">
      <div class="panel-head">
        <h3>Cost</h3>
        <a href="#/cost" class="muted">
          all tenants ›
        </a>
      </div>
      <dl class="figures">
        <div>
          <dt>Month to date</dt>
          <dd id="tenant-mtd">
            {data.cost_not_on_bill ? (
              <span class="muted" title="A customer-owned account outside your organization: AWS bills the customer">
                not on your bill
              </span>
            ) : (
              dollars(c.month_to_date)
            )}
          </dd>
        </div>
        <div>
          <dt>Last month</dt>
          <dd>{dollars(c.last_month)}</dd>
        </div>
        <div>
          <dt>Forecast</dt>
          <dd>
            {dollars(c.forecast)} <span class={c.change !== null && c.change > 0.1 ? 'stale' : 'muted'}>{percentChange(c.change)}</span>
          </dd>
        </div>
        {data.cost_per_million_requests !== null && (
          <div>
            <dt>Per million requests</dt>
            <dd>{dollars(data.cost_per_million_requests)}</dd>
          </div>
        )}
      </dl>
      <CostChart id="tenant-cost-chart" tenant={data.tenant.id} state={state} />
      <table class="compact" id="tenant-services">
        <thead>
          <tr>
            <th>Service</th>
            <th class="num">This month</th>
            <th class="num">Last month</th>
          </tr>
        </thead>
        <tbody>
          {data.cost_services.slice(0, 8).map((s) => (
            <tr key={s.service}>
              <td>{s.service}</td>
              <td class="num">{dollars(s.month_to_date)}</td>
              <td class="num">{dollars(s.last_month)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Console({ data, region }: { data: TenantData; region: string }) {
  const links = data.console.filter((l) => l.region === region);
  const [status, setStatus] = useState<string | null>(null);
  if (links.length === 0) return null;
  return (
    <section class="panel" id="console-links" aria-label="AWS console">
      <div class="panel-head">
        <h3>AWS console</h3>
        <span class="muted">as the read-only role, in {region}</span>
      </div>
      <div class="link-row">
        {links.map((l, i) => (
          <button
            type="button"
            key={l.label}
            class="button small"
            data-url={l.url}
            title={l.url}
            onClick={() => {
              openConsole(data.tenant.id, region, i).then(
                () => setStatus(`Opened ${l.label} in your browser.`),
                (e: unknown) => setStatus(asIpcError(e).message),
              );
            }}
          >
            {l.label} ↗
          </button>
        ))}
      </div>
      {status && (
        <p class="muted small" id="console-status" role="status">
          {status}
        </p>
      )}
    </section>
  );
}

/** What names the tenant's resources in a shared account: its tag. */
function Resources({ data, region }: { data: TenantData; region: string }) {
  const here = data.resources.filter((r) => r.region === region);
  if (data.resources.length === 0) return null;
  return (
    <section class="panel" id="tenant-resources" aria-label="Resources found by tag">
      <div class="panel-head">
        <h3>Resources</h3>
        <span class="muted">
          found by tag {data.resource_tag} = {data.tenant.id} in {region}
        </span>
      </div>
      {here.length === 0 ? (
        <p class="muted small">Nothing in {region} carries the tag.</p>
      ) : (
        <ul class="resource-list">
          {here.map((r) => (
            <li key={r.arn} title={r.arn}>
              <span class="muted">{r.kind}</span> {r.value}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}


const RUN_HOURS: readonly number[] = [1, 6, 24, 72];

function Logs({ data, region, state }: { data: TenantData; region: string; state: ConsoleState }) {
  const cached = data.logs.filter((l) => l.region === region);
  // Results run on demand replace the cached one of the same query.
  const [ran, setRan] = useState<Record<string, LogPanel>>({});
  const [hours, setHours] = useState(1);
  const [running, setRunning] = useState<string | null>(null);
  const [failure, setFailure] = useState<{ query: string; message: string } | null>(null);
  useEffect(() => {
    setRan({});
    setFailure(null);
  }, [data.tenant.id, region]);

  const run = async (query: string) => {
    setRunning(query);
    setFailure(null);
    try {
      const panel = await runTriage({ tenant: data.tenant.id, region, query, hours });
      setRan((r) => ({ ...r, [query]: panel }));
    } catch (e) {
      setFailure({ query, message: asIpcError(e).message });
    } finally {
      setRunning(null);
    }
  };

  return (
    <section class="panel" id="tenant-logs" aria-label="Logs Insights">
      <div class="panel-head">
        <h3>Logs Insights, {region}</h3>
        <label class="muted">
          run over the last{' '}
          <select id="triage-hours" class="select" value={hours} onChange={(e) => setHours(Number(e.currentTarget.value))}>
            {RUN_HOURS.map((h) => (
              <option key={h} value={h}>
                {h < 24 ? `${h} h` : `${h / 24} d`}
              </option>
            ))}
          </select>
        </label>
      </div>
      {data.log_queries.map((q) => {
        const panel = ran[q.key] ?? cached.find((l) => l.query === q.key) ?? null;
        return (
          <div class="log-panel" key={q.key} id={`logs-${q.key}`} data-query={q.key} data-rows={panel?.rows.length ?? 0}>
            <div class="log-head">
              <strong>{q.label}</strong>
              {panel && (
                <span class="muted small">
                  {' '}
                  {shortTime(panel.window_start)} – {shortTime(panel.window_end)} · {panel.records_matched.toLocaleString()} matched
                  {ran[q.key] ? ' · run just now' : ` · read ${ago(panel.read_at, state.now)}`}
                </span>
              )}
              <button
                type="button"
                class="button small"
                id={`run-${q.key}`}
                disabled={running !== null || state.offline}
                title={state.offline ? 'Offline: no AWS call' : 'Run this query now in the tenant account (read-only)'}
                onClick={() => void run(q.key)}
              >
                {running === q.key ? 'Running…' : 'Run now'}
              </button>
            </div>
            {failure?.query === q.key && (
              <p class="chart-note error" id={`run-${q.key}-error`}>
                {failure.message}
              </p>
            )}
            {panel === null ? (
              <p class="muted small">Not read yet for this region.</p>
            ) : panel.withheld ? (
              <p class="muted small">
                Data residency: {panel.records_matched.toLocaleString()} matching lines, not copied to this machine.
              </p>
            ) : (
              <LogTable panel={panel} />
            )}
            {panel?.truncated && <p class="stale small">Logs Insights cut this result: there are more rows than shown.</p>}
            {panel?.partial && (
              <p class="stale small" data-partial="true">
                Part of the log groups were not read ({panel.partial}): the result is the other groups' answer.
              </p>
            )}
          </div>
        );
      })}
    </section>
  );
}

function LogTable({ panel }: { panel: LogPanel }) {
  if (panel.rows.length === 0) return <p class="muted small">No matching lines.</p>;
  return (
    <div class="table-scroll log-scroll">
      <table class="compact log-table">
        <thead>
          <tr>
            {panel.columns.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {panel.rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j} class={panel.columns[j] === '@message' ? 'mono log-line' : undefined}>
                  {cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
