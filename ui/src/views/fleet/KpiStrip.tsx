/**
 * The executive's one-glance answer: tenants per health (counted per
 * tenant, at its worst region, by the backend), alarms open now,
 * anomalies of the last 24 hours, and the month's cost with its forecast;
 * under it, the same health counts per tier and per region.
 */
import type { FleetOverview } from '../../bindings/FleetOverview';
import type { GroupHealth } from '../../bindings/GroupHealth';
import type { Health } from '../../bindings/Health';
import { HEALTH_GLYPH } from '../../components/HealthBadge';
import { dollars, percentChange } from '../../format';

const ORDER: readonly { health: Health; label: string }[] = [
  { health: 'ok', label: 'OK' },
  { health: 'degraded', label: 'Degraded' },
  { health: 'critical', label: 'Critical' },
  { health: 'unknown', label: 'Unknown' },
];

export function KpiStrip({ overview, onHealth }: { overview: FleetOverview | null; onHealth(health: Health): void }) {
  const counts = overview?.counts ?? null;
  const total = counts ? counts.ok + counts.degraded + counts.critical + counts.unknown : 0;
  return (
    <section class="kpi-area" aria-label="Fleet summary">
      <div class="kpis">
        {ORDER.map(({ health, label }) => {
          const value = counts ? counts[health] : null;
          const lit = value !== null && value > 0 && health !== 'ok';
          return (
            <button
              type="button"
              id={`kpi-${health}`}
              key={health}
              class={`kpi health-${health}${lit ? ' lit' : ''}`}
              data-count={value ?? ''}
              title={`Show only ${label.toLowerCase()} tenants`}
              onClick={() => onHealth(health)}
            >
              <span class="kpi-value">{value ?? '–'}</span>
              <span class="kpi-label">
                <span class="glyph" aria-hidden="true">
                  {HEALTH_GLYPH[health]}
                </span>
                {label}
              </span>
            </button>
          );
        })}
        <div class="kpi kpi-total" id="kpi-tenants" data-count={counts ? total : ''}>
          <span class="kpi-value">{counts ? total : '–'}</span>
          <span class="kpi-label">Tenants</span>
        </div>
        <a id="kpi-alarms" href="#/incidents" class={`kpi kpi-plain${overview && overview.open_alarms > 0 ? ' lit-alarm' : ''}`} data-count={overview?.open_alarms ?? ''}>
          <span class="kpi-value">{overview?.open_alarms ?? '–'}</span>
          <span class="kpi-label">Alarms open</span>
        </a>
        <a id="kpi-anomalies" href="#/incidents" class="kpi kpi-plain" data-count={overview?.anomalies_24h ?? ''}>
          <span class="kpi-value">{overview?.anomalies_24h ?? '–'}</span>
          <span class="kpi-label">Anomalies, 24 h</span>
        </a>
        <a id="kpi-cost" href="#/cost" class="kpi kpi-plain kpi-cost" data-mtd={overview?.cost.month_to_date ?? ''}>
          <span class="kpi-value">{overview ? dollars(overview.cost.month_to_date) : '–'}</span>
          <span class="kpi-label">
            Month to date · forecast {overview ? dollars(overview.cost.forecast) : '–'}{' '}
            {overview && <span class="muted">({percentChange(overview.cost.change)} vs last month)</span>}
          </span>
        </a>
      </div>
      {overview && (overview.by_tier.length > 1 || overview.by_region.length > 1) && (
        <div class="groups" id="health-groups">
          <Groups id="by-tier" label="By tier" groups={overview.by_tier} />
          <Groups id="by-region" label="By region" groups={overview.by_region} />
        </div>
      )}
    </section>
  );
}

function Groups({ id, label, groups }: { id: string; label: string; groups: readonly GroupHealth[] }) {
  return (
    <div class="group-line" id={id}>
      <span class="group-label muted">{label}</span>
      {groups.map((g) => (
        <span class="group" key={g.group} data-group={g.group} data-critical={g.counts.critical}>
          <span class="group-name">{g.group}</span>
          {(['critical', 'degraded', 'unknown', 'ok'] as const)
            .filter((h) => g.counts[h] > 0)
            .map((h) => (
              <span key={h} class={`group-count health-${h}`} title={`${g.counts[h]} ${h}`}>
                <span class="glyph" aria-hidden="true">
                  {HEALTH_GLYPH[h]}
                </span>
                {g.counts[h]}
              </span>
            ))}
        </span>
      ))}
    </div>
  );
}
