/**
 * The fleet's health over time: a row per tenant (its regions folded into
 * their worst, unless one region is picked), a cell per bucket, worst
 * tenants first. Cells come from the Rust side as one character each;
 * they are painted on one canvas (1,000 tenants are 48,000 cells), the
 * names beside it are text. Click a row to chart it; double-click, or
 * Enter on a focused row, opens the tenant.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Heatmap as HeatmapData } from '../../bindings/Heatmap';
import type { TenantHealth } from '../../bindings/TenantHealth';
import { shortTime, zoneName } from '../../format';
import { asIpcError, heatmap } from '../../ipc';
import type { ConsoleState } from '../../state/console';
import { rowKey } from './filter';

const ROW_PX = 16;
const HOURS: readonly { hours: number; label: string }[] = [
  { hours: 24, label: '24h' },
  { hours: 24 * 7, label: '7d' },
  { hours: 24 * 30, label: '30d' },
];
/** Worse wins when regions fold: . < o < u < d < c. */
const RANK: Record<string, number> = { '.': 0, o: 1, u: 2, d: 3, c: 4 };
const LEGEND: readonly [string, string][] = [
  ['c', 'critical'],
  ['d', 'degraded'],
  ['u', 'unknown'],
  ['o', 'ok'],
  ['.', 'no data'],
];

export interface HeatRow {
  tenant: string;
  name: string;
  /** The region shown, or the worst region when folded. */
  region: string;
  regions: number;
  cells: string;
}

interface Props {
  state: ConsoleState;
  /** The Fleet view's rows after its filters: the heatmap shows those. */
  rows: readonly TenantHealth[];
  /** Fold regions into one row per tenant. */
  fold: boolean;
  selected: string | null;
  onPick(row: TenantHealth): void;
  onOpen(row: TenantHealth): void;
}

export function Heatmap({ state, rows, fold, selected, onPick, onOpen }: Props) {
  const [hours, setHours] = useState(24);
  const [data, setData] = useState<HeatmapData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const version = state.overview?.last_sync ?? null;

  useEffect(() => {
    let current = true;
    heatmap(hours).then(
      (d) => {
        if (!current) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => {
        if (current) setError(asIpcError(e).message);
      },
    );
    return () => {
      current = false;
    };
  }, [hours, version]);

  const heatRows = useMemo(() => (data ? foldRows(data, rows, fold) : []), [data, rows, fold]);
  const byKey = useMemo(() => new Map(rows.map((r) => [rowKey(r), r])), [rows]);
  const rowOf = (h: HeatRow) => byKey.get(rowKey(h)) ?? null;

  return (
    <div class="heatmap" id="heatmap">
      <div class="heatmap-head">
        <div class="ranges" role="group" aria-label="Heatmap range">
          {HOURS.map((h) => (
            <button type="button" key={h.hours} class="chip" aria-pressed={hours === h.hours} onClick={() => setHours(h.hours)}>
              {h.label}
            </button>
          ))}
        </div>
        <span class="legend" aria-label="Legend">
          {LEGEND.map(([c, label]) => (
            <span class="legend-item" key={c}>
              <span class={`swatch cell-${c === '.' ? 'none' : c}`} aria-hidden="true" />
              {label}
            </span>
          ))}
        </span>
        {data && (
          <span class="muted heatmap-span">
            {shortTime(data.since)} – {shortTime(data.until)} {zoneName()}, {Math.round(data.bucket_ms / 60_000)} min a cell
          </span>
        )}
      </div>
      {error ? (
        <p class="chart-note error">{error}</p>
      ) : data === null ? (
        <p class="chart-note">Loading the heatmap…</p>
      ) : heatRows.length === 0 ? (
        <p class="chart-note">No tenant matches the filters.</p>
      ) : (
        <div class="heatmap-body table-scroll">
          <ol class="heatmap-names" aria-label="Tenants, worst first">
            {heatRows.map((h) => {
              const row = rowOf(h);
              const key = rowKey(h);
              return (
                <li
                  key={key}
                  class={selected === key ? 'heat-name is-selected' : 'heat-name'}
                  data-tenant={h.tenant}
                  data-region={h.region}
                  data-cells={h.cells}
                  tabIndex={0}
                  title={`${h.name} (${h.tenant}) — ${fold && h.regions > 1 ? `worst of ${h.regions} regions` : h.region}`}
                  onClick={() => row && onPick(row)}
                  onDblClick={() => row && onOpen(row)}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' && row) {
                      e.preventDefault();
                      onOpen(row);
                    }
                  }}
                >
                  <span class="heat-label">{h.name}</span>
                  {!fold && <span class="muted mono heat-region">{h.region}</span>}
                </li>
              );
            })}
          </ol>
          <Cells rows={heatRows} theme={state.theme} onPick={(i) => {
            const h = heatRows[i];
            const row = h && rowOf(h);
            if (row) onPick(row);
          }} />
        </div>
      )}
    </div>
  );
}

/**
 * The rows the heatmap shows: the filtered Fleet rows' cells, folded to
 * one row per tenant (worst cell of its regions) when asked, worst first:
 * by the newest cell, then the count of bad cells, then name.
 */
export function foldRows(data: HeatmapData, rows: readonly TenantHealth[], fold: boolean): HeatRow[] {
  const shown = new Map(rows.map((r) => [rowKey(r), r]));
  const out = new Map<string, HeatRow>();
  for (const h of data.rows) {
    const row = shown.get(rowKey(h));
    if (!row) continue;
    const id = fold ? h.tenant : rowKey(h);
    const prev = out.get(id);
    if (!prev) {
      out.set(id, { tenant: h.tenant, name: row.name, region: h.region, regions: 1, cells: h.cells });
      continue;
    }
    let cells = '';
    for (let i = 0; i < h.cells.length; i++) {
      const a = prev.cells[i] ?? '.';
      const b = h.cells[i] ?? '.';
      cells += (RANK[b] ?? 0) > (RANK[a] ?? 0) ? b : a;
    }
    const last = (c: string) => RANK[c[c.length - 1] ?? '.'] ?? 0;
    prev.region = last(h.cells) > last(prev.cells) ? h.region : prev.region;
    prev.cells = cells;
    prev.regions += 1;
  }
  const score = (r: HeatRow) => {
    let bad = 0;
    for (const c of r.cells) bad += c === 'c' ? 3 : c === 'd' ? 2 : c === 'u' ? 1 : 0;
    return bad;
  };
  return [...out.values()].sort(
    (a, b) =>
      (RANK[b.cells[b.cells.length - 1] ?? '.'] ?? 0) - (RANK[a.cells[a.cells.length - 1] ?? '.'] ?? 0) ||
      score(b) - score(a) ||
      a.name.localeCompare(b.name) ||
      a.region.localeCompare(b.region),
  );
}

function Cells({ rows, theme, onPick }: { rows: readonly HeatRow[]; theme: string; onPick(index: number): void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const el = canvas.current?.parentElement;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(canvas.current?.clientWidth ?? 0));
    observer.observe(el);
    setWidth(canvas.current?.clientWidth ?? 0);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const c = canvas.current;
    if (!c || width <= 0) return;
    const ratio = window.devicePixelRatio || 1;
    const height = rows.length * ROW_PX;
    c.width = Math.round(width * ratio);
    c.height = Math.round(height * ratio);
    c.style.height = `${height}px`;
    const g = c.getContext('2d');
    if (!g) return;
    g.scale(ratio, ratio);
    const css = getComputedStyle(document.documentElement);
    const colour: Record<string, string> = {
      c: css.getPropertyValue('--critical').trim(),
      d: css.getPropertyValue('--degraded').trim(),
      u: css.getPropertyValue('--unknown').trim(),
      o: css.getPropertyValue('--ok').trim(),
      '.': css.getPropertyValue('--surface-2').trim(),
    };
    g.clearRect(0, 0, width, height);
    rows.forEach((r, y) => {
      const n = r.cells.length || 1;
      const w = width / n;
      for (let x = 0; x < r.cells.length; x++) {
        const ch = r.cells[x] ?? '.';
        g.globalAlpha = ch === 'o' ? 0.45 : 1;
        g.fillStyle = colour[ch] ?? colour['.'] ?? '#888';
        g.fillRect(x * w + 0.5, y * ROW_PX + 1, Math.max(1, w - 1), ROW_PX - 2);
      }
    });
    g.globalAlpha = 1;
  }, [rows, width, theme]);

  return (
    <canvas
      ref={canvas}
      id="heatmap-cells"
      class="heatmap-cells"
      data-rows={rows.length}
      aria-hidden="true"
      onClick={(e) => {
        const rect = e.currentTarget.getBoundingClientRect();
        onPick(Math.floor((e.clientY - rect.top) / ROW_PX));
      }}
    />
  );
}
