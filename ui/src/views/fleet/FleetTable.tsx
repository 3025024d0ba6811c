/**
 * One row per tenant-region, worst first as the backend sorted them. The
 * cursor (moved by the arrow keys) and the selection (what the chart shows)
 * are separate, so browsing with the keyboard does not reload charts.
 */
import { useEffect, useRef } from 'preact/hooks';
import { useProgressive } from '../../components/useProgressive';
import type { TenantHealth } from '../../bindings/TenantHealth';
import { HealthBadge } from '../../components/HealthBadge';
import { ago, timestamp } from '../../format';
import { rowKey } from './filter';

/** A tenant-region with no datapoint newer than this is marked stale. */
const STALE_MS = 15 * 60_000;
/** Reasons shown in the row; the rest are counted as "+N more". */
const SHOWN_REASONS = 2;


interface Props {
  rows: readonly TenantHealth[];
  /** How many rows there are before filtering, to word the no-match line. */
  total: number;
  cursor: string | null;
  selected: string | null;
  now: number;
  onPick(row: TenantHealth): void;
  /** Double-click: open the tenant's view. */
  onOpen(row: TenantHealth): void;
}

export function FleetTable({ rows, total, cursor, selected, now, onPick, onOpen }: Props) {
  const cursorRow = useRef<HTMLTableRowElement>(null);
  const cursorIndex = cursor === null ? -1 : rows.findIndex((r) => rowKey(r) === cursor);
  const { drawn, sentinel } = useProgressive(rows.length, cursorIndex);
  useEffect(() => {
    cursorRow.current?.scrollIntoView({ block: 'nearest' });
  }, [cursor]);

  return (
    <div class="table-scroll" tabIndex={0} aria-label="Tenant-regions, worst first. Arrow keys move, Enter selects.">
      <table id="fleet-table" class="fleet-table">
        <thead>
          <tr>
            <th scope="col" class="col-health">Health</th>
            <th scope="col" class="col-tenant">Tenant</th>
            <th scope="col" class="col-tier">Tier</th>
            <th scope="col" class="col-model">Model</th>
            <th scope="col" class="col-region">Region</th>
            <th scope="col" class="col-reasons">Why</th>
            <th scope="col" class="col-fresh">Data</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, drawn).map((row) => {
            const key = rowKey(row);
            const isCursor = key === cursor;
            const isSelected = key === selected;
            return (
              <tr
                key={key}
                ref={isCursor ? cursorRow : undefined}
                class={`row health-${row.health}${isCursor ? ' is-cursor' : ''}${isSelected ? ' is-selected' : ''}`}
                data-tenant={row.tenant}
                data-region={row.region}
                data-health={row.health}
                data-was={row.was ?? undefined}
                data-cursor={isCursor ? 'true' : undefined}
                data-selected={isSelected ? 'true' : undefined}
                aria-selected={isSelected}
                onClick={() => onPick(row)}
                onDblClick={() => onOpen(row)}
              >
                <td class="col-health">
                  <HealthBadge health={row.health} />
                  {row.was !== null && (
                    <span class="changed small" title={`changed since the sync before: was ${row.was}`}>
                      was {row.was}
                    </span>
                  )}
                </td>
                <td class="col-tenant">
                  <div class="tenant-name">{row.name}</div>
                  <div class="tenant-id muted">{row.tenant}</div>
                </td>
                <td class="col-tier">{row.tier}</td>
                <td class="col-model">{row.model}</td>
                <td class="col-region mono">{row.region}</td>
                <td class="col-reasons">
                  <Reasons reasons={row.reasons} />
                </td>
                <td class="col-fresh">
                  <Freshness at={row.fresh_at} now={now} />
                </td>
              </tr>
            );
          })}
          {drawn < rows.length && (
            <tr ref={sentinel} id="more-rows" class="no-match">
              <td colSpan={7}>{rows.length - drawn} more rows…</td>
            </tr>
          )}
          {rows.length === 0 && (
            <tr id="no-match" class="no-match">
              <td colSpan={7}>No tenant-region matches the filter ({total} hidden).</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function Reasons({ reasons }: { reasons: readonly string[] }) {
  if (reasons.length === 0) return <span class="muted">—</span>;
  const hidden = reasons.length - SHOWN_REASONS;
  return (
    <div class="reasons" title={reasons.join('\n')}>
      <div class="reason-lines">
        {reasons.slice(0, SHOWN_REASONS).map((reason, i) => (
          <div class="reason" key={i}>
            {reason}
          </div>
        ))}
      </div>
      {hidden > 0 && <span class="more">+{hidden} more</span>}
    </div>
  );
}

function Freshness({ at, now }: { at: number | null; now: number }) {
  if (at === null) return <span class="muted">no data</span>;
  return (
    <span class={now - at > STALE_MS ? 'stale' : undefined} title={timestamp(at)}>
      {ago(at, now)}
    </span>
  );
}
