/**
 * The selected tenant-region: its focus metric charted by the backend at the
 * panel's width, and every reason for its health.
 */
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chart } from '../../bindings/Chart';
import type { IpcError } from '../../bindings/IpcError';
import type { TenantHealth } from '../../bindings/TenantHealth';
import { HealthBadge } from '../../components/HealthBadge';
import { svgDataUrl } from '../../format';
import { asIpcError, ErrorCode, tenantChart } from '../../ipc';

/** Widths are rounded down to this step so a window drag asks for few charts. */
const WIDTH_STEP = 16;
const RESIZE_SETTLE_MS = 150;

interface Size {
  width: number;
  height: number;
}

interface Loaded {
  /** Which tenant, region and metric the chart shows. */
  subject: string;
  chart: Chart;
  url: string;
}

interface Props {
  row: TenantHealth;
  /** Changes when the cache has new data (the last sync time): charts refetch. */
  version: number | null;
}

export function ChartPanel({ row, version }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const size = useBoxSize(box);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loading, setLoading] = useState(false);
  const [failure, setFailure] = useState<{ subject: string; error: IpcError } | null>(null);

  const metric = row.focus_metric;
  const subject = `${row.tenant}\u0000${row.region}\u0000${metric ?? ''}`;

  useEffect(() => {
    if (metric === null || size === null) return;
    // Answers can overtake each other; only the newest request may land.
    let current = true;
    setLoading(true);
    const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
    tenantChart({ tenant: row.tenant, region: row.region, metric, width: size.width, height: size.height, dark })
      .then(
        (chart) => {
          if (!current) return;
          setLoaded({ subject, chart, url: svgDataUrl(chart.svg) });
          setFailure(null);
        },
        (error: unknown) => {
          if (current) setFailure({ subject, error: asIpcError(error) });
        },
      )
      .finally(() => {
        if (current) setLoading(false);
      });
    return () => {
      current = false;
    };
  }, [subject, size?.width, size?.height, version]);

  // Never show one tenant's chart under another's name, even for a moment.
  const chart = loaded?.subject === subject ? loaded : null;
  const error = failure?.subject === subject ? failure.error : null;

  return (
    <aside id="chart-panel" class="chart-pane" aria-label="Selected tenant-region">
      <header class="pane-head">
        <HealthBadge health={row.health} />
        <h2 id="selected-name" class="selected-name">
          {row.name}
        </h2>
        <span class="muted">{row.tenant}</span>
        <div class="selected-meta muted">
          <span class="mono">{row.region}</span> · {row.tier} · {row.model}
        </div>
      </header>

      <section class="chart-section" aria-busy={loading}>
        <h3 id="chart-title" class="chart-title">
          {chart ? chart.chart.title : (metric ?? 'No metric')}
          {chart && chart.chart.unit && <span class="muted"> ({chart.chart.unit})</span>}
        </h3>
        <div class="chart-box" ref={box}>
          {metric === null ? (
            <p class="chart-note">Nothing to chart for this tenant-region yet.</p>
          ) : error && !loading ? (
            <p id="chart-error" class={error.code === ErrorCode.NotFound ? 'chart-note' : 'chart-note error'}>
              {error.message}
            </p>
          ) : chart && size ? (
            <img
              id="focus-chart"
              class={loading ? 'chart loading' : 'chart'}
              src={chart.url}
              alt={chart.chart.title}
              width={size.width}
              height={size.height}
              data-points={chart.chart.points}
            />
          ) : (
            <p class="chart-note">Loading chart…</p>
          )}
        </div>
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

/** The element's width in steps, and a chart height in proportion to it. */
function useBoxSize(ref: RefObject<HTMLElement | null>): Size | null {
  const [size, setSize] = useState<Size | null>(null);
  useEffect(() => {
    const element = ref.current;
    if (element === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const measure = () => {
      const stepped = Math.floor(element.clientWidth / WIDTH_STEP) * WIDTH_STEP;
      if (stepped <= 0) return; // hidden or not laid out yet
      const width = Math.max(240, stepped);
      const height = Math.min(320, Math.max(180, Math.round(width * 0.55)));
      setSize((s) => (s && s.width === width && s.height === height ? s : { width, height }));
    };
    measure();
    const observer = new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(measure, RESIZE_SETTLE_MS);
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      clearTimeout(timer);
    };
  }, [ref]);
  return size;
}
