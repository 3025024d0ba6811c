/** Small, pure formatting helpers shared by the views. */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "2 min ago", "3 h ago", "4 d ago" for an epoch-ms time. */
export function ago(thenMs: number, nowMs: number): string {
  const elapsed = nowMs - thenMs;
  // A time slightly in the future is clock skew between Rust and the webview.
  if (elapsed < MINUTE) return 'just now';
  if (elapsed < HOUR) return `${Math.floor(elapsed / MINUTE)} min ago`;
  if (elapsed < DAY) return `${Math.floor(elapsed / HOUR)} h ago`;
  return `${Math.floor(elapsed / DAY)} d ago`;
}

let zone: 'utc' | 'local' = 'utc';

/** Which time zone every formatted time is in (the viewer's setting). */
export function setTimeZone(timeZone: string): void {
  zone = timeZone === 'local' ? 'local' : 'utc';
}

/** The zone's name as shown beside times: "UTC" or "local". */
export function zoneName(): string {
  return zone === 'utc' ? 'UTC' : 'local';
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Date and time to the second in the viewer's zone, for tooltips next to `ago`. */
export function timestamp(ms: number): string {
  const d = new Date(ms);
  if (zone === 'utc') {
    return (
      `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
    );
  }
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** "06-12 04:15" in the viewer's zone: compact times for tables. */
export function shortTime(ms: number): string {
  const d = new Date(ms);
  return zone === 'utc'
    ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
    : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "$12,345.67": grouped by hand, as the webview may have no locale data. */
export function dollars(v: number): string {
  const [whole, cents] = Math.abs(v).toFixed(2).split('.');
  const grouped = (whole ?? '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${v < 0 ? '−' : ''}$${grouped}.${cents ?? '00'}`;
}

/** "+6.5 %" / "−3.0 %" / "—" for a fraction. */
export function percentChange(change: number | null): string {
  if (change === null) return '—';
  const sign = change > 0 ? '+' : change < 0 ? '−' : '';
  return `${sign}${Math.abs(change * 100).toFixed(1)} %`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * A data: URL for an SVG document. The SVG is shown through <img> so that no
 * tenant-controlled text ever reaches the DOM as markup, and base64 keeps any
 * byte of it out of the URL syntax.
 */
export function svgDataUrl(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  // Chunked: spreading a large array into fromCharCode overflows the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}
