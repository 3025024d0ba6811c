/**
 * Incidents: one timeline of what went wrong across the fleet — anomaly
 * episodes found by the detector, alarm episodes from CloudWatch and cost
 * anomalies (a tenant's daily spend on a service far above its own usual) —
 * and peer and fleet-wide departures — newest first, ongoing ones marked.
 * One problem is one row: a tenant-region's alarm, anomaly, peer departure
 * and error logs that began together are listed inside it.
 * Each opens its evidence: the tenant's view in that region, with its
 * charts, alarms and logs (arrow keys and Enter work too).
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import type { Incident } from '../../bindings/Incident';
import type { IncidentKind } from '../../bindings/IncidentKind';
import { ExportButton } from '../../components/ExportButton';
import { FilterBox } from '../../components/FilterBox';
import { useCached } from '../../components/useCached';
import { useProgressive } from '../../components/useProgressive';
import { useTableKeys } from '../../components/useTableKeys';
import { ago, plural, shortTime, timestamp } from '../../format';
import { incidents } from '../../ipc';
import type { ViewProps } from '../../routes';

const WINDOWS: readonly { hours: number; label: string }[] = [
  { hours: 24, label: '24 h' },
  { hours: 24 * 7, label: '7 days' },
  { hours: 24 * 30, label: '30 days' },
];

const KINDS: readonly IncidentKind[] = ['anomaly', 'alarm', 'cost', 'peer', 'neighbour', 'fleet', 'logs'];

const KIND_LABEL: Record<IncidentKind, string> = {
  anomaly: 'Anomalies',
  alarm: 'Alarm episodes',
  cost: 'Cost anomalies',
  peer: 'Apart from peers',
  fleet: 'Fleet-wide',
  logs: 'With error logs',
  neighbour: 'Noisy neighbours',
};

/** Where an incident's evidence is: its tenant in its region (cost: the tenant). */
export function evidenceOf(i: Incident): string {
  if (i.tenant === '*') return '#/fleet';
  const tenant = `#/tenant/${encodeURIComponent(i.tenant)}`;
  return i.region === '*' ? tenant : `${tenant}/${encodeURIComponent(i.region)}`;
}

/** "25 min", "3 h 10 min", "2 d 4 h". */
function duration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  return `${Math.floor(hours / 24)} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

export function IncidentsView({ state }: ViewProps) {
  const [hours, setHours] = useState(24);
  const { data, error } = useCached(state, () => incidents(hours), [hours]);
  const [text, setText] = useState('');
  const [kinds, setKinds] = useState<ReadonlySet<IncidentKind>>(new Set());
  const list = data?.incidents ?? [];
  const name = (tenant: string) => data?.names[tenant] ?? tenant;
  const visible = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return list.filter(
      (i) =>
        // An incident matches by its own kind or any of its signals'.
        (kinds.size === 0 || kinds.has(i.kind) || i.evidence.some((e) => kinds.has(e.kind))) &&
        (needle === '' ||
          [i.tenant, name(i.tenant), i.region, i.subject, i.title, ...i.evidence.map((e) => e.title)].some((f) =>
            f.toLowerCase().includes(needle),
          )),
    );
  }, [list, kinds, text, data]);
  const ongoing = list.filter((i) => i.end === null).length;
  // Per kind, every signal counts, those inside an incident too.
  const signals = list.flatMap((i) => [i, ...i.evidence]);
  const box = useRef<HTMLDivElement>(null);
  const cursor = useTableKeys(box, visible.length, (at) => {
    const i = visible[at];
    if (i) location.hash = evidenceOf(i);
  });
  const { drawn, sentinel } = useProgressive(visible.length, cursor);
  const toggle = (kind: IncidentKind) =>
    setKinds((current) => {
      const next = new Set(current);
      if (next.has(kind)) next.delete(kind);
      else next.add(kind);
      return next;
    });

  return (
    <div class="incidents-view">
      <section class="kpis" aria-label="Incidents">
        <div id="kpi-incidents-ongoing" class={`kpi health-critical${ongoing > 0 ? ' lit' : ''}`} data-count={ongoing}>
          <span class="kpi-value">{data ? ongoing : '–'}</span>
          <span class="kpi-label">Ongoing</span>
        </div>
        {KINDS.map((kind) => (
          <div key={kind} id={`kpi-incidents-${kind}`} class="kpi">
            <span class="kpi-value">{data ? signals.filter((i) => i.kind === kind).length : '–'}</span>
            <span class="kpi-label">{KIND_LABEL[kind]}</span>
          </div>
        ))}
      </section>
      {error && (
        <p id="error-banner" class="notice" role="alert">
          Could not read the incidents: {error.message}
        </p>
      )}
      <section class="table-pane" aria-label="Incident timeline">
        <div class="toolbar">
          <FilterBox
            id="incidents-filter"
            placeholder="Filter by tenant, region, metric, text"
            label="Filter incidents"
            value={text}
            onInput={setText}
          />
          <div class="chips" role="group" aria-label="Show only">
            {KINDS.map((kind) => (
              <button
                type="button"
                key={kind}
                id={`chip-${kind}`}
                class="chip"
                aria-pressed={kinds.has(kind)}
                onClick={() => toggle(kind)}
              >
                {kind}
              </button>
            ))}
          </div>
          <div class="chips" role="group" aria-label="Window">
            {WINDOWS.map((w) => (
              <button
                type="button"
                key={w.hours}
                id={`window-${w.hours}`}
                class="chip"
                aria-pressed={hours === w.hours}
                onClick={() => setHours(w.hours)}
              >
                {w.label}
              </button>
            ))}
          </div>
          <span class="row-count">{plural(visible.length, 'incident')}</span>
          {data?.changed_since != null && (
            <span class="changed small" id="incidents-changes">
              since {shortTime(data.changed_since)}: {list.filter((i) => changeOf(i, data.changed_since) === 'new').length} new,{' '}
              {list.filter((i) => changeOf(i, data.changed_since) === 'ended').length} ended
            </span>
          )}
          <ExportButton
            id="export-incidents"
            table={() => ({
              name: 'incidents',
              header: ['start', 'end', 'tenant', 'region', 'kind', 'subject', 'title'],
              rows: visible.map((i) => [
                new Date(i.start).toISOString(),
                i.end === null ? '' : new Date(i.end).toISOString(),
                i.tenant,
                i.region,
                i.kind,
                i.subject,
                i.title,
              ]),
            })}
          />
        </div>
        <div class="table-scroll" tabIndex={0} ref={box} aria-label="Incidents, newest first. Arrow keys move, Enter opens the evidence.">
          <table id="incidents-table" class="fleet-table">
            <thead>
              <tr>
                <th scope="col" class="col-when">Started</th>
                <th scope="col" class="col-for">For</th>
                <th scope="col" class="col-kind">Kind</th>
                <th scope="col" class="col-tenant">Tenant</th>
                <th scope="col" class="col-what">What</th>
              </tr>
            </thead>
            <tbody>
              {visible.slice(0, drawn).map((i, at) => (
                <IncidentLine
                  since={data?.changed_since ?? null}
                  key={`${i.kind}/${i.tenant}/${i.region}/${i.subject}/${i.start}`}
                  incident={i}
                  name={i.tenant === '*' ? 'Whole fleet' : name(i.tenant)}
                  now={state.now}
                  cursor={at === cursor}
                />
              ))}
              {drawn < visible.length && (
                <tr ref={sentinel} class="no-match">
                  <td colSpan={5}>{visible.length - drawn} more incidents…</td>
                </tr>
              )}
              {data && visible.length === 0 && (
                <tr class="no-match">
                  <td colSpan={5}>{list.length === 0 ? 'Nothing happened in this window.' : 'No incident matches.'}</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}

/** What changed since the sync before: it began since, or ended since. */
function changeOf(i: Incident, since: number | null): 'new' | 'ended' | null {
  if (since === null) return null;
  if (i.start >= since) return 'new';
  if (i.end !== null && i.end >= since) return 'ended';
  return null;
}

function IncidentLine({
  incident: i,
  name,
  now,
  cursor,
  since,
}: {
  incident: Incident;
  name: string;
  now: number;
  cursor: boolean;
  since: number | null;
}) {
  const evidence = evidenceOf(i);
  const changed = changeOf(i, since);
  return (
    <tr
      class={`row ${i.end === null ? 'health-critical' : 'health-degraded'}${cursor ? ' is-cursor' : ''}`}
      data-cursor={cursor ? 'true' : undefined}
      data-tenant={i.tenant}
      data-region={i.region}
      data-kind={i.kind}
      data-subject={i.subject}
      data-ongoing={i.end === null}
      data-changed={changed ?? undefined}
    >
      <td title={timestamp(i.start)}>
        {ago(i.start, now)}
        {changed !== null && since !== null && (
          <span class="changed small" title={`since the sync before (${shortTime(since)})`}>
            {' '}
            {changed}
          </span>
        )}
      </td>
      <td>{i.end === null ? <strong>ongoing, {duration(now - i.start)}</strong> : duration(i.end - i.start)}</td>
      <td>
        <span class={`badge ${i.kind === 'alarm' ? 'health-critical' : i.kind === 'cost' ? 'health-unknown' : 'health-degraded'}`}>
          {i.kind}
        </span>
      </td>
      <td>
        <a class="evidence" href={evidence} title="Open the evidence: the tenant's charts, alarms and logs">
          <div class="tenant-name">{name}</div>
          <div class="tenant-id muted">
            {i.tenant} · {i.region === '*' ? 'all regions' : i.region}
          </div>
        </a>
      </td>
      <td class="col-what">
        <div class="error-line">{i.title}</div>
        <div class="muted mono">{i.subject}</div>
        {i.evidence.length > 0 && (
          <ul class="signals small" data-signals={i.evidence.length}>
            {i.evidence.map((e, k) => (
              <li key={k} data-kind={e.kind}>
                <span class="muted">{e.kind}</span> {e.title}{' '}
                <span class="when muted" title={timestamp(e.start)}>
                  · {shortTime(e.start)}, {e.end === null ? 'ongoing' : `for ${duration(e.end - e.start)}`}
                </span>
              </li>
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}
