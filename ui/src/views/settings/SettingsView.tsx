/**
 * Settings: the viewer's own preferences (kept on this machine), and where
 * fleetdeck keeps everything, with the fleet file's retention. Retention
 * is the team's choice, so it lives in the fleet file: shown here, changed
 * there. And what the open console costs in API calls, against a monthly
 * budget (the viewer's or the fleet file's, the lower winning).
 */
import { useEffect, useState } from 'preact/hooks';
import type { Settings } from '../../bindings/Settings';
import type { SettingsView as SettingsData } from '../../bindings/SettingsView';
import { ApiSpend } from '../../components/ApiSpend';
import { asIpcError, settings as readSettings } from '../../ipc';
import type { ViewProps } from '../../routes';
import type { Theme } from '../../bindings/Theme';
import type { TimeZone } from '../../bindings/TimeZone';

/** The choices, typed by the Rust enums (ts-rs): a value Rust does not know fails the build. */
const THEMES: [Theme, string][] = [
  ['system', 'as the system'],
  ['light', 'light'],
  ['dark', 'dark'],
];
const TIME_ZONES: [TimeZone, string][] = [
  ['utc', 'UTC (as AWS and most runbooks)'],
  ['local', 'local time'],
];

/** The typed choice whose value the select reports (the current one if none matches). */
function pick<T extends string>(choices: [T, string][], value: string, current: T): T {
  return choices.find(([v]) => v === value)?.[0] ?? current;
}

export function SettingsView({ state }: ViewProps) {
  const [data, setData] = useState<SettingsData | null>(null);
  const [draft, setDraft] = useState<Settings>(state.settings);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    readSettings().then(
      (d) => {
        setData(d);
        setDraft(d.settings);
      },
      (e: unknown) => setError(asIpcError(e).message),
    );
  }, []);

  const save = async (event: Event) => {
    event.preventDefault();
    setStatus(null);
    try {
      await state.saveSettings(draft);
      setStatus({ ok: true, text: 'Saved.' });
      // The projection and the budget's effect follow the new settings.
      setData(await readSettings());
    } catch (e) {
      setStatus({ ok: false, text: asIpcError(e).message });
    }
  };
  const set = <K extends keyof Settings>(key: K, value: Settings[K]) => setDraft((d) => ({ ...d, [key]: value }));

  return (
    <div class="settings-view" id="settings-view">
      <form class="panel settings-form" onSubmit={(e) => void save(e)}>
        <h3>Your preferences</h3>
        <label>
          <span>Sync every</span>
          <input
            id="setting-sync-minutes"
            type="number"
            min={1}
            max={60}
            value={draft.sync_minutes}
            onInput={(e) => set('sync_minutes', Number(e.currentTarget.value))}
          />{' '}
          minutes <span class="muted">(a failed sync that could not reach AWS is retried after 1 minute)</span>
        </label>
        <label>
          <span>Theme</span>
          <select id="setting-theme" class="select" value={draft.theme} onChange={(e) => set('theme', pick(THEMES, e.currentTarget.value, draft.theme))}>
            {THEMES.map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </label>
        <label>
          <span>Times in</span>
          <select id="setting-time-zone" class="select" value={draft.time_zone} onChange={(e) => set('time_zone', pick(TIME_ZONES, e.currentTarget.value, draft.time_zone))}>
            {TIME_ZONES.map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </label>
        <label>
          <span>API budget</span>
          <input
            id="setting-api-budget"
            type="number"
            min={0.01}
            step={0.01}
            placeholder="none"
            value={draft.monthly_api_budget ?? ''}
            onInput={(e) => {
              const v = e.currentTarget.value.trim();
              set('monthly_api_budget', v === '' ? null : Number(v));
            }}
          />{' '}
          dollars a month{' '}
          <span class="muted">
            (over it, healthy tenants are read less often; the fleet file's budget, if lower, wins)
          </span>
        </label>
        <label class="check">
          <input
            id="setting-notify"
            type="checkbox"
            checked={draft.notify_critical}
            onChange={(e) => set('notify_critical', e.currentTarget.checked)}
          />
          <span>
            Desktop notification when a tenant turns critical.{' '}
            <span class="muted">
              Off by default: on-call already has a pager, and a console that pings on every blip is muted by the second
              day. Turn it on for a watch shift.
            </span>
          </span>
        </label>
        <div class="form-actions">
          <button type="submit" id="save-settings" class="button primary">
            Save
          </button>
          {status && (
            <span id="settings-status" class={status.ok ? 'muted' : 'stale'} role="status" data-ok={status.ok}>
              {status.text}
            </span>
          )}
        </div>
        {data && <p class="muted small">Saved in {data.settings_path}</p>}
      </form>

      {error && <p class="chart-note error">{error}</p>}
      {data && (
        <section class="panel" id="settings-where">
          <h3>Where things are</h3>
          <dl class="facts">
            <dt>Fleet</dt>
            <dd>
              {data.fleet_name} — {data.tenants} tenants, from <span class="mono">{data.fleet_source}</span>
            </dd>
            <dt>Cache</dt>
            <dd>
              <span class="mono">{data.cache_path}</span> ({(data.cache_bytes / 1_048_576).toFixed(1)} MB)
            </dd>
            <dt>Logs</dt>
            <dd class="mono">{data.log_dir ?? 'stderr only (no log directory could be used)'}</dd>
          </dl>
          <h3>API calls</h3>
          <ApiSpend spend={data.spend} />
          <h3>Retention</h3>
          <p class="muted small">
            Set in the fleet file's <span class="mono">[retention]</span> table, so every engineer's cache keeps the same
            history; enforced after each sync.
          </p>
          <table class="compact" id="retention-table">
            <tbody>
              {data.retention.map((r) => (
                <tr key={r.key}>
                  <td class="mono">{r.key}</td>
                  <td class="num">{r.days} days</td>
                  <td class="muted">{r.what}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
