/**
 * Dev-only stand-in for the Rust side, so the console can be seen in a plain
 * browser: `npm run mock`, then open http://127.0.0.1:5174/dev/mock.html.
 * Not imported by src/, so it never reaches the production bundle.
 *
 * `?scenario=` picks what the backend does:
 *   demo     (default) cached data, a sync already ran; Sync now streams progress
 *   first    empty cache, never synced: the console starts the first sync itself
 *   running  a sync started elsewhere is running: the console polls sync_state
 *   failing  fleet_overview fails: the error banner shows
 *   busy     start_sync always answers sync_running
 * `&light` is ignored here; use the browser's colour-scheme emulation instead.
 */
import { mockIPC } from '@tauri-apps/api/mocks';
import type { Chart } from '../src/bindings/Chart';
import type { CostView } from '../src/bindings/CostView';
import type { SourcesView } from '../src/bindings/SourcesView';
import type { FleetOverview } from '../src/bindings/FleetOverview';
import type { Health } from '../src/bindings/Health';
import type { HealthCounts } from '../src/bindings/HealthCounts';
import type { IpcError } from '../src/bindings/IpcError';
import type { SyncProgress } from '../src/bindings/SyncProgress';
import type { SyncState } from '../src/bindings/SyncState';
import type { SyncSummary } from '../src/bindings/SyncSummary';
import type { TenantHealth } from '../src/bindings/TenantHealth';

const scenario = new URLSearchParams(location.search).get('scenario') ?? 'demo';

// ---- A deterministic fleet --------------------------------------------------

let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

const NAMES = [
  'Acme Corp', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries', 'Wayne Enterprises',
  'Soylent', 'Tyrell', 'Cyberdyne', 'Wonka Industries', 'Oscorp', 'Vandelay Imports', 'Pied Piper',
  'Dunder Mifflin', 'Sterling Cooper', 'Aperture Science', 'Black Mesa', 'Massive Dynamic',
  'Nakatomi Trading', 'Monarch Solutions', 'Prestige Worldwide', 'Bluth Company', 'Gekko & Co',
  'Los Pollos Hermanos', 'Paper Street Soap', 'Virtucon', 'Weyland-Yutani', 'Zorg Industries',
  'Ollivanders', 'Krusty Krab', 'Spacely Sprockets',
  // Untrusted text must come out as text, never as markup.
  '<img src=x onerror=alert(1)> Evil "Quotes" & Co',
];
const TIERS = ['enterprise', 'premium', 'standard', 'free'];
const MODELS = ['silo', 'remote', 'shared', 'eks', 'pooled'];
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
const SEVERITY: Record<Health, number> = { critical: 3, degraded: 2, unknown: 1, ok: 0 };

const REASONS: Record<Health, string[]> = {
  critical: [
    'p99 latency 2.41 s, over the 1.5 s critical threshold for the last 5 min',
    '5xx errors 312/min, 18× the 7-day baseline',
    'Alarm prod-api-latency-p99 in ALARM since 02:41',
    'Logs: 1,284 "connection refused" errors from /app/api in 15 min',
  ],
  degraded: [
    '5xx errors 41/min, over the 25/min warning threshold',
    'Pod CPU 87% averaged over 5 datapoints',
    'Container restarts 6 in 15 min',
  ],
  unknown: ['No datapoints: AssumeRole denied for arn:aws:iam::444455556666:role/FleetdeckReadOnly'],
  ok: [],
};

function makeRows(now: number): TenantHealth[] {
  seed = 42;
  const rows: TenantHealth[] = [];
  NAMES.forEach((name, i) => {
    const tenant = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 20);
    const regions = REGIONS.slice(0, 1 + Math.floor(random() * 2.2));
    for (const region of regions) {
      const roll = random();
      let health: Health = roll < 0.06 ? 'critical' : roll < 0.16 ? 'degraded' : roll < 0.2 ? 'unknown' : 'ok';
      if (i === 0 && region === 'us-east-1') health = 'critical';
      const reasons = health === 'ok' ? [] : REASONS[health].slice(0, health === 'critical' ? 4 : 1 + Math.floor(random() * 3));
      rows.push({
        tenant,
        name,
        tier: TIERS[i % TIERS.length] ?? 'standard',
        model: MODELS[(i * 7) % MODELS.length] ?? 'silo',
        region,
        health,
        reasons,
        focus_metric: health === 'unknown' ? null : health === 'ok' ? 'requests' : reasons[0]?.startsWith('p99') ? 'latency_p99' : 'errors',
        fresh_at: health === 'unknown' ? null : now - Math.floor(random() * (i === 5 ? 40 : 4)) * 60_000 - 20_000,
      });
    }
  });
  rows.sort((a, b) => SEVERITY[b.health] - SEVERITY[a.health] || a.name.localeCompare(b.name));
  return rows;
}

function countTenants(rows: readonly TenantHealth[]): HealthCounts {
  const worst = new Map<string, Health>();
  for (const row of rows) {
    const seen = worst.get(row.tenant);
    if (seen === undefined || SEVERITY[row.health] > SEVERITY[seen]) worst.set(row.tenant, row.health);
  }
  const counts: HealthCounts = { ok: 0, degraded: 0, critical: 0, unknown: 0 };
  for (const health of worst.values()) counts[health] += 1;
  return counts;
}

// ---- Backend state -----------------------------------------------------------

const startedUp = Date.now();
let lastSync: number | null = scenario === 'first' ? null : startedUp - 2 * 60_000 - 5_000;
let rows: TenantHealth[] = lastSync === null ? [] : makeRows(lastSync);
let state: SyncState = {
  running: false,
  progress: null,
  last: lastSync === null ? null : summary(lastSync - 40_000, lastSync),
};

function summary(started: number, finished: number): SyncSummary {
  return {
    started_at: started,
    finished_at: finished,
    sources_ok: 94,
    sources_failed: 3,
    unreachable: false,
    datapoints: 182_344,
    api_calls: 311,
    dollars: 0.0311,
    errors: [
      'umbrella us-west-2 metrics: access denied (AssumeRole arn:aws:iam::444455556666:role/FleetdeckReadOnly)',
      'globex eu-west-1 logs: throttled (ThrottlingException after 5 retries)',
      'initech us-east-1 cost: expired credentials (ExpiredToken)',
    ],
  };
}

const PHASES: [string, number][] = [
  ['credentials', 12],
  ['metrics', 48],
  ['alarms', 12],
  ['logs', 12],
  ['cost', 1],
  ['analysis', 1],
];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runSync(report: (p: SyncProgress) => void): Promise<SyncSummary> {
  const started = Date.now();
  state = { ...state, running: true, progress: null };
  for (const [phase, total] of PHASES) {
    for (let done = 0; done <= total; done += Math.max(1, Math.floor(total / 8))) {
      const progress = { phase, done, total, message: `${NAMES[done % NAMES.length]} ${REGIONS[done % 3]}` };
      state = { ...state, progress };
      report(progress);
      await sleep(120);
    }
  }
  const finished = Date.now();
  lastSync = finished;
  rows = makeRows(finished);
  const result = summary(started, finished);
  state = { running: false, progress: null, last: result };
  report({ phase: 'done', done: 1, total: 1, message: 'done' });
  return result;
}

if (scenario === 'running') {
  // Started by someone else before this window opened.
  void runSync(() => {});
}

// ---- Charts ------------------------------------------------------------------

const escapeXml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

function chartFor(tenant: string, region: string, metric: string, width: number, height: number): Chart {
  const row = rows.find((r) => r.tenant === tenant && r.region === region);
  const title = `${metric} — ${row?.name ?? tenant} ${region}`;
  const pad = { l: 44, r: 10, t: 12, b: 24 };
  const n = Math.max(10, Math.floor((width - pad.l - pad.r) / 3));
  const spike = row?.health === 'critical' ? 0.8 : row?.health === 'degraded' ? 0.9 : 2;
  const values = Array.from({ length: n }, (_, i) => {
    const x = i / n;
    return 40 + 25 * Math.sin(x * Math.PI * 4) + 8 * Math.sin(x * 53) + (x > spike ? 120 * (x - spike) * 5 : 0);
  });
  const max = Math.max(...values) * 1.1;
  const px = (i: number) => pad.l + (i / (n - 1)) * (width - pad.l - pad.r);
  const py = (v: number) => pad.t + (1 - v / max) * (height - pad.t - pad.b);
  const line = values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const y = py(max * f).toFixed(1);
      return `<line x1="${pad.l}" x2="${width - pad.r}" y1="${y}" y2="${y}" stroke="#8793a3" stroke-opacity="0.25"/>` +
        `<text x="${pad.l - 6}" y="${y}" fill="#8793a3" font-size="10" text-anchor="end" dominant-baseline="middle">${Math.round(max * f)}</text>`;
    })
    .join('');
  const anomaly =
    spike < 1
      ? `<rect x="${px(Math.floor(spike * n))}" y="${pad.t}" width="${width - pad.r - px(Math.floor(spike * n))}" height="${height - pad.t - pad.b}" fill="#ff5f64" fill-opacity="0.12"/>`
      : '';
  const svg =
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">` +
    `<title>${escapeXml(title)}</title>${grid}${anomaly}` +
    `<polyline points="${line}" fill="none" stroke="#5aa7ff" stroke-width="1.5"/>` +
    `<text x="${pad.l}" y="${height - 6}" fill="#8793a3" font-size="10">-3 h</text>` +
    `<text x="${width - pad.r}" y="${height - 6}" fill="#8793a3" font-size="10" text-anchor="end">now</text></svg>`;
  return { title, unit: metric === 'latency_p99' ? 'seconds' : 'count', svg, points: n, resolution: 0 };
}

// ---- The IPC -------------------------------------------------------------------

interface ChannelLike {
  id: number;
}
interface TauriInternals {
  runCallback(id: number, data: unknown): void;
}

const fail = (code: string, message: string): IpcError => ({ code, message });

mockIPC(async (cmd, payload) => {
  const args = (payload ?? {}) as Record<string, unknown>;
  await sleep(60);
  switch (cmd) {
    case 'fleet_overview': {
      if (scenario === 'failing') throw fail('cache', 'database is locked (cache.sqlite, busy for 5 s)');
      const overview: FleetOverview = {
        fleet_name: 'Example SaaS — production',
        demo: true,
        counts: countTenants(rows),
        rows,
        last_sync: lastSync,
        notices: scenario === 'recovered' ? ['The cache file was unreadable (file is not a database), so it was moved to cache.corrupt-1795337331.sqlite and a fresh cache was started.'] : [],
      };
      return overview;
    }
    case 'sync_state':
      return state;
    case 'start_sync': {
      if (scenario === 'busy' || state.running) throw fail('sync_running', 'a sync is already running');
      const channel = args['onProgress'] as ChannelLike;
      const internals = (window as unknown as { __TAURI_INTERNALS__: TauriInternals }).__TAURI_INTERNALS__;
      let index = 0;
      // Deliver the way Tauri does: ordered, indexed messages to the channel's callback.
      return runSync((message) => internals.runCallback(channel.id, { index: index++, message }));
    }
    case 'tenant_chart': {
      const { tenant, region, metric, width, height } = args as {
        tenant: string; region: string; metric: string; width: number; height: number;
      };
      if (tenant === 'hooli') throw fail('not_found', `no datapoints for ${metric} in ${region} yet`);
      return chartFor(tenant, region, metric, width, height);
    }
    case 'sources': {
      const view: SourcesView = {
        rows: rows.flatMap((r) =>
          ['metrics', 'alarms', 'logs'].map((source) => ({
            tenant: r.tenant,
            name: r.name,
            region: r.region,
            source,
            status: r.health === 'unknown' ? 'access_denied' : 'ok',
            error: r.health === 'unknown' ? 'AccessDenied: not authorized to perform: sts:AssumeRole' : null,
            remediation: r.health === 'unknown' ? 'check the role trusts this identity' : null,
            last_ok: r.health === 'unknown' ? null : lastSync,
            last_attempt: lastSync,
          })),
        ),
        calls: [
          { service: 'cloudwatch', calls: 212, dollars: 0.0212 },
          { service: 'logs', calls: 96, dollars: 0.00096 },
        ],
        last_sync: state.last,
      };
      return view;
    }
    case 'cost_overview': {
      const tenants = [...new Map(rows.map((r) => [r.tenant, r])).values()];
      const view: CostView = {
        today: new Date().toISOString().slice(0, 10),
        rows: tenants.map((r, i) => {
          const last = 400 + ((i * 7919) % 3000);
          const forecast = last * (0.8 + ((i * 31) % 60) / 100);
          return {
            tenant: r.tenant,
            name: r.name,
            tier: r.tier,
            model: r.model,
            cost: { month_to_date: forecast * 0.7, last_month: last, forecast, change: forecast / last - 1 },
          };
        }),
        untagged: { month_to_date: 310.2, last_month: 402.5, forecast: 441.9, change: 0.098 },
        total: { month_to_date: 21_450.1, last_month: 29_880.4, forecast: 30_612.9, change: 0.0245 },
      };
      return view;
    }
    default:
      throw fail('not_found', `unknown command ${cmd}`);
  }
});

// Tauri runs the page with `freezePrototype`; do the same to catch code that
// writes to Object.prototype.
Object.freeze(Object.prototype);

void import('../src/main');
