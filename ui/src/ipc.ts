/**
 * The console's only door to the Rust side: one typed function per Tauri
 * command. Every failure is normalised to an `IpcError` so views branch on
 * `code` and show `message`, whatever went wrong underneath.
 */
import { Channel, invoke } from '@tauri-apps/api/core';
import type { Chart } from './bindings/Chart';
import type { ChartExport } from './bindings/ChartExport';
import type { ChartRequest } from './bindings/ChartRequest';
import type { Command } from './bindings/Command';
import type { CostChartRequest } from './bindings/CostChartRequest';
import type { CostView } from './bindings/CostView';
import type { CsvExport } from './bindings/CsvExport';
import type { FleetOverview } from './bindings/FleetOverview';
import type { Heatmap } from './bindings/Heatmap';
import type { IncidentsView } from './bindings/IncidentsView';
import type { IpcError } from './bindings/IpcError';
import type { LogPanel } from './bindings/LogPanel';
import type { LogsRequest } from './bindings/LogsRequest';
import type { Settings } from './bindings/Settings';
import type { SettingsView } from './bindings/SettingsView';
import type { SourcesView } from './bindings/SourcesView';
import type { SyncProgress } from './bindings/SyncProgress';
import type { SyncState } from './bindings/SyncState';
import type { SyncSummary } from './bindings/SyncSummary';
import type { TenantView } from './bindings/TenantView';

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/**
 * Anything thrown by `invoke` as an `IpcError`. Commands reject with the Rust
 * `IpcError`, but the webview itself can fail too (command missing, denied by
 * a capability), and those arrive as plain strings or `Error`s.
 */
export function asIpcError(value: unknown): IpcError {
  if (isIpcError(value)) return value;
  if (value instanceof Error) return { code: 'internal', message: value.message };
  if (typeof value === 'string') return { code: 'internal', message: value };
  return { code: 'internal', message: 'Unexpected error from the backend' };
}

async function call<T>(command: Command, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw asIpcError(error);
  }
}


export function fleetOverview(): Promise<FleetOverview> {
  return call<FleetOverview>('fleet_overview');
}

export function sources(): Promise<SourcesView> {
  return call<SourcesView>('sources');
}

/** Anomaly and alarm episodes of the last `hours` (1 to 720), newest first. */
export function incidents(hours: number): Promise<IncidentsView> {
  return call<IncidentsView>('incidents', { hours });
}

export function costOverview(): Promise<CostView> {
  return call<CostView>('cost_overview');
}

/** Saves a table as CSV (cells escaped by the Rust side); resolves with the file's path. */
export function exportCsv(table: CsvExport): Promise<string> {
  return call<string>('export_csv', { table });
}

export function tenantChart(request: ChartRequest): Promise<Chart> {
  return call<Chart>('tenant_chart', { request });
}

/**
 * Starts a sync and resolves with its summary when it ends. Progress streams
 * over a channel rather than events so it reaches only this caller.
 * Rejects with code `sync_running` when another sync is already going.
 */
export function startSync(onProgress: (progress: SyncProgress) => void): Promise<SyncSummary> {
  const channel = new Channel<SyncProgress>();
  channel.onmessage = onProgress;
  return call<SyncSummary>('start_sync', { onProgress: channel });
}

export function syncState(): Promise<SyncState> {
  return call<SyncState>('sync_state');
}

export function heatmap(hours: number): Promise<Heatmap> {
  return call<Heatmap>('heatmap', { hours });
}

export function tenantView(tenant: string): Promise<TenantView> {
  return call<TenantView>('tenant_view', { tenant });
}

export function costChart(request: CostChartRequest): Promise<Chart> {
  return call<Chart>('cost_chart', { request });
}

/** Saves a chart as PNG or SVG (drawn by the Rust side); resolves with the file's path. */
export function exportChart(exportRequest: ChartExport): Promise<string> {
  return call<string>('export_chart', { export: exportRequest });
}

export type ReportFormat = 'html' | 'pdf' | 'png' | 'csv';

/** Writes the executive summary (or one tenant's report) like `fleetdeck report`; resolves with the path. */
export function exportReport(tenant: string | null, days: number, format: ReportFormat): Promise<string> {
  return call<string>('export_report', { tenant, days, format });
}

/** Runs one triage query now (read-only, in the tenant's account); code `offline` or `aws` on failure. */
export function runTriage(request: LogsRequest): Promise<LogPanel> {
  return call<LogPanel>('run_triage', { request });
}

/** Opens the tenant's `link`-th AWS console link for `region` in the browser; resolves with the URL. */
export function openConsole(tenant: string, region: string, link: number): Promise<string> {
  return call<string>('open_console', { tenant, region, link });
}

export function settings(): Promise<SettingsView> {
  return call<SettingsView>('settings');
}

/** Why the settings file could not be read, if it could not (defaults are in use). */
export function settingsProblem(): Promise<string | null> {
  return call<string | null>('settings_problem');
}

export function saveSettings(value: Settings): Promise<Settings> {
  return call<Settings>('save_settings', { settings: value });
}

/** Tells the Rust side the Fleet view has drawn (it logs the cold-start time once). */
export function uiReady(rows: number): Promise<void> {
  return call<void>('ui_ready', { rows });
}
