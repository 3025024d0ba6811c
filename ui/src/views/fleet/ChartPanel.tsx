/**
 * The selected tenant-region: its focus metric (the one that best shows
 * the problem) charted beside its tier's median, every reason for its
 * health, and the way into the tenant's own view.
 */
import type { TenantHealth } from '../../bindings/TenantHealth';
import { HealthBadge } from '../../components/HealthBadge';
import { MetricChart } from '../../components/MetricChart';
import type { ConsoleState } from '../../state/console';

interface Props {
  row: TenantHealth;
  state: ConsoleState;
  /** Changes when the cache has new data (the last sync time): charts refetch. */
  version: number | null;
}

export function ChartPanel({ row, state, version }: Props) {
  const metric = row.focus_metric;
  const tenantHref = `#/tenant/${encodeURIComponent(row.tenant)}/${encodeURIComponent(row.region)}`;
  return (
    <aside id="chart-panel" class="chart-pane" aria-label="Selected tenant-region">
      <header class="pane-head">
        <HealthBadge health={row.health} />
        <h2 id="selected-name" class="selected-name">
          {row.name}
        </h2>
        <span class="muted">{row.tenant}</span>
        <a id="open-tenant" class="button small" href={tenantHref} title="Every metric, alarm, log and cost of this tenant (Enter)">
          Open tenant ›
        </a>
        <div class="selected-meta muted">
          <span class="mono">{row.region}</span> · {row.tier} · {row.model}
        </div>
      </header>

      <section class="chart-section">
        {metric === null ? (
          <p class="chart-note">Nothing to chart for this tenant-region yet.</p>
        ) : (
          <MetricChart
            id="focus-chart"
            subject={{ tenant: row.tenant, region: row.region, metric }}
            state={state}
            version={version}
          />
        )}
      </section>

      <section class="why">
        <h3>Why {row.health}</h3>
        {row.reasons.length > 0 ? (
          <ul id="selected-reasons">
            {row.reasons.map((reason, i) => (
              <li key={i}>{reason}</li>
            ))}
          </ul>
        ) : (
          <p class="muted">No findings.</p>
        )}
      </section>
    </aside>
  );
}
