/**
 * Daily cost stacked by service (one tenant's or the fleet's), drawn by
 * the Rust side, with 30/90/395-day ranges and PNG/SVG export.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chart } from '../bindings/Chart';
import type { CostChartRequest } from '../bindings/CostChartRequest';
import { svgDataUrl } from '../format';
import { asIpcError, costChart } from '../ipc';
import type { ConsoleState } from '../state/console';
import { useChartExport } from './ChartExport';
import { useBoxSize } from './MetricChart';

const DAYS: readonly number[] = [30, 90, 395];

export function CostChart({ id, tenant, state }: { id: string; tenant: string | null; state: ConsoleState }) {
  const box = useRef<HTMLDivElement>(null);
  const size = useBoxSize(box, 0.62);
  const [days, setDays] = useState(30);
  const [chart, setChart] = useState<{ chart: Chart; url: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const dark = state.theme === 'dark';
  const version = state.overview?.last_sync ?? null;
  const request = (width: number, height: number): CostChartRequest => ({ tenant, days, width, height, dark });

  useEffect(() => {
    if (size === null) return;
    let current = true;
    costChart(request(size.width, size.height)).then(
      (c) => {
        if (!current) return;
        setChart({ chart: c, url: svgDataUrl(c.svg) });
        setError(null);
      },
      (e: unknown) => {
        if (current) setError(asIpcError(e).message);
      },
    );
    return () => {
      current = false;
    };
  }, [tenant, days, dark, size?.width, size?.height, version]);

  const exporter = useChartExport({
    id,
    request: (format) => (size === null ? null : { cost: request(size.width, size.height), format }),
  });

  return (
    <figure class="metric-chart" id={id}>
      <div class="chart-tools">
        <div class="ranges" role="group" aria-label="Days">
          {DAYS.map((d) => (
            <button type="button" key={d} class="chip" aria-pressed={days === d} onClick={() => setDays(d)}>
              {d === 395 ? '13 months' : `${d} days`}
            </button>
          ))}
        </div>
        {exporter.buttons}
      </div>
      <div class="chart-box" ref={box}>
        {error ? (
          <p class="chart-note error">{error}</p>
        ) : chart && size ? (
          <img id={`${id}-img`} class="chart" src={chart.url} alt={chart.chart.title} width={size.width} height={size.height} />
        ) : (
          <p class="chart-note">Loading chart…</p>
        )}
      </div>
      <figcaption class="chart-caption muted">
        {chart?.chart.notes.join(' ')}
        {exporter.status}
      </figcaption>
    </figure>
  );
}
