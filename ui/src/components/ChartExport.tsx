/**
 * PNG and SVG for a chart: the Rust side draws the chart again exactly as
 * asked (PNG at twice the size) and saves it in the Downloads folder; the
 * status line says where, or why not.
 */
import { useState } from 'preact/hooks';
import type { ChartExport } from '../bindings/ChartExport';
import { asIpcError, exportChart } from '../ipc';

interface Props {
  /** Prefix of the buttons' and status' ids. */
  id: string;
  /** The chart to save, in a format; null while there is none yet. */
  request(format: 'png' | 'svg'): ChartExport | null;
}

export function useChartExport({ id, request }: Props) {
  const [saved, setSaved] = useState<{ ok: boolean; text: string } | null>(null);
  const save = async (format: 'png' | 'svg') => {
    const what = request(format);
    if (what === null) return;
    setSaved(null);
    try {
      setSaved({ ok: true, text: `Saved to ${await exportChart(what)}` });
    } catch (e) {
      setSaved({ ok: false, text: `Not saved: ${asIpcError(e).message}` });
    }
  };
  const buttons = (
    <span class="chart-actions">
      {(['png', 'svg'] as const).map((format) => (
        <button type="button" key={format} class="link-button" id={`${id}-${format}`} onClick={() => void save(format)}>
          {format.toUpperCase()}
        </button>
      ))}
    </span>
  );
  const status = saved && (
    <span id={`${id}-saved`} class={saved.ok ? 'saved' : 'stale'} role="status" data-ok={saved.ok}>
      {' '}
      {saved.text}
    </span>
  );
  return { buttons, status, reset: () => setSaved(null) };
}
