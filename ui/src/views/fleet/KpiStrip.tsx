/**
 * Tenants per health, the executive's one-glance answer. Counted per tenant
 * (its worst region) by the backend, so they need not add up to the rows.
 */
import type { Health } from '../../bindings/Health';
import type { HealthCounts } from '../../bindings/HealthCounts';
import { HEALTH_GLYPH } from '../../components/HealthBadge';

const ORDER: readonly { health: Health; label: string }[] = [
  { health: 'ok', label: 'OK' },
  { health: 'degraded', label: 'Degraded' },
  { health: 'critical', label: 'Critical' },
  { health: 'unknown', label: 'Unknown' },
];

export function KpiStrip({ counts }: { counts: HealthCounts | null }) {
  const total = counts ? counts.ok + counts.degraded + counts.critical + counts.unknown : 0;
  return (
    <section class="kpis" aria-label="Tenants by health">
      {ORDER.map(({ health, label }) => {
        const value = counts ? counts[health] : null;
        const lit = value !== null && value > 0 && health !== 'ok';
        return (
          <div id={`kpi-${health}`} key={health} class={`kpi health-${health}${lit ? ' lit' : ''}`} data-count={value ?? ''}>
            <span class="kpi-value">{value ?? '–'}</span>
            <span class="kpi-label">
              <span class="glyph" aria-hidden="true">
                {HEALTH_GLYPH[health]}
              </span>
              {label}
            </span>
          </div>
        );
      })}
      <div class="kpi kpi-total">
        <span class="kpi-value">{counts ? total : '–'}</span>
        <span class="kpi-label">Tenants</span>
      </div>
    </section>
  );
}
