/**
 * One metric chart drawn by the Rust side (plotters, SVG) at this box's
 * width, in the viewer's theme and time zone. Drag across it to zoom: the
 * brushed pixels map back to times through the plot area's edges the chart
 * reports, and the range is drawn again at the resolution that fits (raw
 * minutes, hourly or daily summaries). Range buttons for the keyboard,
 * PNG and SVG export of exactly what is shown.
 *
 * The SVG is shown through <img> (a data: URL), so no tenant text in it
 * ever becomes markup in the page.
 */
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chart } from '../bindings/Chart';
import type { ChartRequest } from '../bindings/ChartRequest';
import type { IpcError } from '../bindings/IpcError';
import { shortTime, svgDataUrl, zoneName } from '../format';
import { asIpcError, tenantChart } from '../ipc';
import type { ConsoleState } from '../state/console';
import { utcOffsetMinutes } from '../theme';
import { useChartExport } from './ChartExport';

/** Widths are rounded down to this step so a window drag asks for few charts. */
const WIDTH_STEP = 16;
const RESIZE_SETTLE_MS = 150;
/** A brushed span narrower than this (pixels) is a click, not a zoom. */
const MIN_BRUSH_PX = 6;

export const RANGES: readonly { hours: number; label: string }[] = [
  { hours: 1, label: '1h' },
  { hours: 6, label: '6h' },
  { hours: 24, label: '24h' },
  { hours: 24 * 7, label: '7d' },
  { hours: 24 * 30, label: '30d' },
];

export interface Subject {
  tenant: string;
  region: string;
  metric: string;
}

interface Props {
  /** Prefix for element ids (the window test finds charts by them). */
  id: string;
  subject: Subject;
  state: ConsoleState;
  /** Changes when the cache has new data: the chart is drawn again. */
  version: number | null;
  /** Initial range in hours. */
  hours?: number;
  /** Draw the tier's median beside the tenant. */
  fleetMedian?: boolean;
  /** Height as a share of the width, clamped. */
  aspect?: number;
}

interface Loaded {
  key: string;
  chart: Chart;
  url: string;
  /** The theme it was drawn for. */
  dark: boolean;
}

export function MetricChart({ id, subject, state, version, hours: initialHours = 6, fleetMedian = true, aspect = 0.62 }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const size = useBoxSize(box, aspect);
  const [hours, setHours] = useState(initialHours);
  // A brushed span (epoch ms), or null for the last `hours`.
  const [span, setSpan] = useState<{ from: number; to: number } | null>(null);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loading, setLoading] = useState(false);
  const [failure, setFailure] = useState<{ key: string; error: IpcError } | null>(null);

  const offset = utcOffsetMinutes(state.settings);
  const dark = state.theme === 'dark';
  const request = (width: number, height: number): ChartRequest => ({
    tenant: subject.tenant,
    region: subject.region,
    metric: subject.metric,
    width,
    height,
    dark,
    utc_offset_min: offset,
    fleet_median: fleetMedian,
    ...(span ? { from: span.from, to: span.to } : { hours }),
  });
  const key = [subject.tenant, subject.region, subject.metric, hours, span?.from, span?.to, dark, offset].join('\u0000');

  const exporter = useChartExport({
    id,
    request: (format) => (size === null ? null : { metric: request(size.width, size.height), format }),
  });
  useEffect(() => {
    setSpan(null);
    exporter.reset();
  }, [subject.tenant, subject.region, subject.metric]);

  useEffect(() => {
    if (size === null) return;
    // Answers can overtake each other; only the newest request may land.
    let current = true;
    setLoading(true);
    tenantChart(request(size.width, size.height))
      .then(
        (chart) => {
          if (!current) return;
          setLoaded({ key, chart, url: svgDataUrl(chart.svg), dark });
          setFailure(null);
        },
        (error: unknown) => {
          if (current) setFailure({ key, error: asIpcError(error) });
        },
      )
      .finally(() => {
        if (current) setLoading(false);
      });
    return () => {
      current = false;
    };
  }, [key, size?.width, size?.height, version]);

  // Never show one chart under another's title, even for a moment.
  const chart = loaded?.key === key ? loaded : null;
  const error = failure?.key === key ? failure.error : null;
  const shown = chart ?? (loaded && loading ? loaded : null);

  return (
    <figure class="metric-chart" id={id} data-tenant={subject.tenant} data-region={subject.region} data-metric={subject.metric}>
      <div class="chart-tools">
        <div class="ranges" role="group" aria-label="Time range">
          {RANGES.map((r) => (
            <button
              type="button"
              key={r.hours}
              class="chip"
              aria-pressed={span === null && hours === r.hours}
              onClick={() => {
                setSpan(null);
                setHours(r.hours);
              }}
            >
              {r.label}
            </button>
          ))}
          {span && (
            <button type="button" id={`${id}-reset`} class="chip" onClick={() => setSpan(null)} title="Back to the last range">
              Reset zoom
            </button>
          )}
        </div>
        {exporter.buttons}
      </div>
      <div class="chart-box" ref={box} aria-busy={loading}>
        {error && !loading ? (
          <p id={`${id}-error`} class={error.code === 'not_found' ? 'chart-note' : 'chart-note error'}>
            {error.message}
          </p>
        ) : shown && size ? (
          <Brush
            chart={shown.chart}
            width={size.width}
            onSpan={(from, to) => setSpan({ from, to })}
            img={
              <img
                id={`${id}-img`}
                class={loading ? 'chart loading' : 'chart'}
                src={shown.url}
                alt={shown.chart.title}
                width={size.width}
                height={size.height}
                data-points={shown.chart.points}
                data-resolution={shown.chart.resolution}
                data-anomalies={shown.chart.anomalies}
                data-from={shown.chart.from}
                data-to={shown.chart.to}
                data-theme={shown.dark ? 'dark' : 'light'}
                draggable={false}
              />
            }
          />
        ) : (
          <p class="chart-note">Loading chart…</p>
        )}
      </div>
      <figcaption class="chart-caption muted">
        {shown && (
          <>
            {shortTime(shown.chart.from)} – {shortTime(shown.chart.to)} {zoneName()} · drag across the chart to zoom
            {shown.chart.notes.map((n, i) => (
              <span class="chart-note-line" key={i}>
                {' '}
                · {n}
              </span>
            ))}
          </>
        )}
        {exporter.status}
      </figcaption>
    </figure>
  );
}

/** The chart image with a drag-to-zoom overlay over its plot area. */
function Brush({
  chart,
  width,
  img,
  onSpan,
}: {
  chart: Chart;
  width: number;
  img: preact.JSX.Element;
  onSpan(from: number, to: number): void;
}) {
  const overlay = useRef<HTMLDivElement>(null);
  const band = useRef<HTMLDivElement>(null);
  const drag = useRef<{ start: number } | null>(null);
  // The image is drawn at `width` CSS px; the plot's edges are in those px.
  const left = chart.plot_left;
  const right = Math.max(chart.plot_right, left + 1);
  const clampX = (x: number) => Math.min(right, Math.max(left, x));
  const toTime = (x: number) => chart.from + ((clampX(x) - left) / (right - left)) * (chart.to - chart.from);

  const show = (a: number, b: number) => {
    const el = band.current;
    if (el === null) return;
    // CSSOM, not a style attribute: the CSP allows this.
    el.style.left = `${Math.min(a, b)}px`;
    el.style.width = `${Math.abs(b - a)}px`;
    el.hidden = Math.abs(b - a) < 1;
  };
  const xOf = (event: MouseEvent) => {
    const rect = overlay.current?.getBoundingClientRect();
    return rect ? ((event.clientX - rect.left) / rect.width) * width : 0;
  };

  return (
    <div
      class="brush"
      ref={overlay}
      onMouseDown={(e) => {
        if (e.button !== 0) return;
        e.preventDefault();
        drag.current = { start: clampX(xOf(e)) };
        show(drag.current.start, drag.current.start);
      }}
      onMouseMove={(e) => {
        if (drag.current) show(drag.current.start, clampX(xOf(e)));
      }}
      onMouseUp={(e) => {
        const d = drag.current;
        drag.current = null;
        show(0, 0);
        if (d === null) return;
        const end = clampX(xOf(e));
        if (Math.abs(end - d.start) < MIN_BRUSH_PX) return;
        const [a, b] = [toTime(Math.min(d.start, end)), toTime(Math.max(d.start, end))];
        // At least two minutes: the backend draws one minute to 400 days.
        onSpan(Math.floor(a), Math.max(Math.ceil(b), Math.floor(a) + 120_000));
      }}
      onMouseLeave={() => {
        drag.current = null;
        show(0, 0);
      }}
    >
      {img}
      <div class="brush-band" ref={band} hidden />
    </div>
  );
}

/** The element's width in steps, and a height in proportion to it. */
export function useBoxSize(ref: RefObject<HTMLElement | null>, aspect = 0.42): { width: number; height: number } | null {
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  useEffect(() => {
    const element = ref.current;
    if (element === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const measure = () => {
      const stepped = Math.floor(element.clientWidth / WIDTH_STEP) * WIDTH_STEP;
      if (stepped <= 0) return; // hidden or not laid out yet
      const width = Math.max(240, stepped);
      const height = Math.min(380, Math.max(200, Math.round(width * aspect)));
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
  }, [ref, aspect]);
  return size;
}
