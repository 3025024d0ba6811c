/** Which Fleet rows are shown: pure, so the view only wires it to inputs. */
import type { Health } from '../../bindings/Health';
import type { TenantHealth } from '../../bindings/TenantHealth';

export interface RowFilter {
  /** Whitespace-separated terms; a row must contain every one. */
  text: string;
  /** Healths to show; empty shows all. */
  healths: ReadonlySet<Health>;
  /** Exact tier, region and isolation model; '' shows all. */
  tier?: string;
  region?: string;
  model?: string;
}

/** A tenant-region is the row's identity: one tenant spans several regions. */
export function rowKey(row: Pick<TenantHealth, 'tenant' | 'region'>): string {
  return `${row.tenant}\u0000${row.region}`;
}

export function filterRows(rows: readonly TenantHealth[], filter: RowFilter): TenantHealth[] {
  const terms = filter.text.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
  return rows.filter((row) => {
    if (filter.healths.size > 0 && !filter.healths.has(row.health)) return false;
    if (filter.tier && row.tier !== filter.tier) return false;
    if (filter.region && row.region !== filter.region) return false;
    if (filter.model && row.model !== filter.model) return false;
    if (terms.length === 0) return true;
    const haystack = [row.name, row.tenant, row.region, row.tier, row.model].join('\n').toLowerCase();
    return terms.every((term) => haystack.includes(term));
  });
}

export function countByHealth(rows: readonly TenantHealth[]): Record<Health, number> {
  const counts: Record<Health, number> = { critical: 0, degraded: 0, unknown: 0, ok: 0 };
  for (const row of rows) counts[row.health] += 1;
  return counts;
}

/** The distinct values of a column, sorted: the choices of a filter menu. */
export function distinct(rows: readonly TenantHealth[], pick: (row: TenantHealth) => string): string[] {
  return [...new Set(rows.map(pick))].sort();
}
