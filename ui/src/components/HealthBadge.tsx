/**
 * Health shown as a coloured badge that also carries a distinct glyph and the
 * word itself, so it reads the same without colour vision.
 */
import type { Health } from '../bindings/Health';

/** Worst first: the order of KPI-like lists and filter chips. */
export const HEALTHS: readonly Health[] = ['critical', 'degraded', 'unknown', 'ok'];

export const HEALTH_GLYPH: Record<Health, string> = {
  critical: '◆',
  degraded: '▲',
  unknown: '?',
  ok: '●',
};

export function HealthBadge({ health }: { health: Health }) {
  return (
    <span class={`badge health-${health}`}>
      <span class="glyph" aria-hidden="true">
        {HEALTH_GLYPH[health]}
      </span>
      {health}
    </span>
  );
}
