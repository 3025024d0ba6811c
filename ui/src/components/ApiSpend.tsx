/**
 * What keeping the console open costs in API calls, shown in Sources and
 * Settings alike: the last 24 hours, the projection at the sync interval,
 * the budget and whose it is, and, when the projection is over it, how
 * often healthy tenant-regions are read instead (the engine's sentence).
 */
import type { ApiSpend as Spend } from '../bindings/ApiSpend';
import { dollars, plural } from '../format';

export function ApiSpend({ spend }: { spend: Spend }) {
  return (
    <div class="api-spend" id="api-spend">
      <dl class="facts">
        <dt>Last 24 h</dt>
        <dd id="spend-last-24h">
          {dollars(spend.last_24h_dollars)} over {plural(spend.last_24h_syncs, 'sync')}
        </dd>
        <dt>Every {spend.interval_minutes} min</dt>
        <dd id="spend-projection">
          {dollars(spend.per_day)} a day, {dollars(spend.per_month)} a month{' '}
          <span class="muted">(every tenant-region read every sync, at list prices)</span>
        </dd>
        <dt>Budget</dt>
        <dd id="spend-budget">
          {spend.budget === null ? (
            <span class="muted">none (yours in Settings, or the team's in the fleet file: [fleet] monthly_api_budget)</span>
          ) : (
            <>
              {dollars(spend.budget)} a month, from {spend.budget_from}
            </>
          )}
        </dd>
      </dl>
      {spend.note !== null && (
        <p id="spend-note" class="notice" role="status" data-healthy-every={spend.healthy_every_minutes ?? undefined}>
          {spend.note}
        </p>
      )}
    </div>
  );
}
