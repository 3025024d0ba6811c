/**
 * The console's shared state: the fleet overview every view starts from and
 * the sync lifecycle around it — starting a sync, following one started
 * elsewhere, auto-syncing, and the notices that failures leave behind.
 *
 * Views receive a `ConsoleState` and never call the sync commands themselves,
 * so there is exactly one code path that starts a sync.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { FleetOverview } from '../bindings/FleetOverview';
import type { IpcError } from '../bindings/IpcError';
import type { Settings } from '../bindings/Settings';
import type { SyncProgress } from '../bindings/SyncProgress';
import type { SyncState } from '../bindings/SyncState';
import type { SyncSummary } from '../bindings/SyncSummary';
import { setTimeZone } from '../format';
import {
  asIpcError,
  fleetOverview,
  saveSettings as saveSettingsCall,
  settings as settingsCall,
  settingsProblem,
  startSync,
  syncState,
} from '../ipc';
import { applyTheme, type Effective } from '../theme';

/** How often relative times ("2 min ago") are refreshed. */
export const TICK_MS = 30_000;
/** What the viewer sees until their settings are read. */
export const DEFAULT_SETTINGS: Settings = {
  sync_minutes: 5,
  theme: 'system',
  time_zone: 'utc',
  notify_critical: false,
  monthly_api_budget: null,
};
/** ...or this long, when the last one could not reach AWS at all. */
export const RETRY_UNREACHABLE_MS = 60_000;
/** How often `sync_state` is polled while following someone else's sync. */
export const POLL_MS = 1_000;

/** A failure shown in the dismissible error banner. */
export interface Notice {
  id: number;
  /** What the console was doing, e.g. "Loading the fleet". */
  context: string;
  code: string;
  message: string;
}

export interface SyncView {
  running: boolean;
  /** Latest progress of the running sync; null before its first message. */
  progress: SyncProgress | null;
  /** The last finished sync, as far as this window knows. */
  last: SyncSummary | null;
}

export interface ConsoleState {
  /** Null until the first `fleet_overview` answers. */
  overview: FleetOverview | null;
  /** The viewer's preferences (defaults until read). */
  settings: Settings;
  /** The theme in effect (charts are drawn for it). */
  theme: Effective;
  /** Started with --offline: no sync, ever. */
  offline: boolean;
  /** Saves new preferences; resolves once they are on disk. */
  saveSettings(next: Settings): Promise<void>;
  /** Why the last `fleet_overview` failed; null once one succeeds. */
  overviewError: IpcError | null;
  sync: SyncView;
  notices: readonly Notice[];
  /** Wall-clock time, advanced every TICK_MS so relative times stay true. */
  now: number;
  /** Starts a sync unless one is already being run or followed. */
  startSync(): void;
  /** Reads the fleet overview from the cache again. */
  reload(): void;
  /** Adds a notice for a failed call. */
  report(context: string, error: unknown): void;
  dismiss(id: number): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function useConsoleState(): ConsoleState {
  const [overview, setOverview] = useState<FleetOverview | null>(null);
  const [overviewError, setOverviewError] = useState<IpcError | null>(null);
  const [sync, setSync] = useState<SyncView>({ running: false, progress: null, last: null });
  const [notices, setNotices] = useState<readonly Notice[]>([]);
  const [now, setNow] = useState(Date.now);
  const [settings, setSettings] = useState<Settings>(DEFAULT_SETTINGS);
  const [theme, setTheme] = useState<Effective>('dark');
  const [offline, setOffline] = useState(false);
  // The timer reads the interval through a ref: it is set up once.
  const syncEvery = useRef(DEFAULT_SETTINGS.sync_minutes * 60_000);
  const isOffline = useRef(false);

  // True while a sync, ours or another window's, is being run or followed:
  // guards against starting a second one from the button or the timer.
  const busy = useRef(false);
  const lastEnded = useRef(Date.now());
  // The last sync found AWS unreachable: try again sooner.
  const lastUnreachable = useRef(false);
  const alive = useRef(true);

  const ops = useMemo(() => {
    let nextNoticeId = 1;

    // Set once the backend says it could not open the fleet at all: nothing
    // can sync until the user fixes it, and the main panel already says why.
    let setupFailed = false;

    const report = (context: string, error: unknown) => {
      const { code, message } = asIpcError(error);
      if (code === 'setup') {
        setupFailed = true;
        return;
      }
      setNotices((list) =>
        list.some((n) => n.context === context && n.code === code && n.message === message)
          ? list
          : [...list, { id: nextNoticeId++, context, code, message }],
      );
    };

    const reload = async () => {
      try {
        const next = await fleetOverview();
        if (!alive.current) return;
        setOverview(next);
        setOverviewError(null);
        setNow(Date.now());
      } catch (error) {
        report('Loading the fleet', error);
        if (alive.current) setOverviewError(asIpcError(error));
      }
    };

    const showState = (state: SyncState) =>
      setSync((s) => ({ running: state.running, progress: state.progress, last: state.last ?? s.last }));

    /** Polls until the backend reports no running sync. */
    const waitUntilIdle = async () => {
      while (alive.current) {
        await sleep(POLL_MS);
        let state: SyncState;
        try {
          state = await syncState();
        } catch (error) {
          report('Following the running sync', error);
          return;
        }
        if (!alive.current) return;
        showState(state);
        if (!state.running) return;
      }
    };

    /** Every sync ends here, whichever way it went: fresh data is in the cache. */
    const finish = async () => {
      lastEnded.current = Date.now();
      setSync((s) => ({ ...s, running: false, progress: null }));
      busy.current = false;
      await reload();
    };

    const start = async () => {
      if (busy.current || setupFailed || isOffline.current) return;
      busy.current = true;
      setSync((s) => ({ ...s, running: true, progress: null }));
      try {
        const summary = await startSync((progress) => {
          if (alive.current) setSync((s) => ({ ...s, progress }));
        });
        lastUnreachable.current = summary.unreachable;
        setSync((s) => ({ ...s, last: summary }));
      } catch (error) {
        const failure = asIpcError(error);
        // Someone else (another window, the CLI) got there first: follow theirs.
        if (failure.code === 'sync_running') await waitUntilIdle();
        else report('Syncing', failure);
      }
      await finish();
    };

    const follow = async (state: SyncState) => {
      if (busy.current) return;
      busy.current = true;
      showState(state);
      await waitUntilIdle();
      await finish();
    };

    const loadSettings = async () => {
      try {
        const view = await settingsCall();
        if (!alive.current) return;
        setSettings(view.settings);
        const problem = await settingsProblem();
        if (problem !== null) report('Reading your settings', { code: 'bad_request', message: problem });
      } catch (error) {
        report('Reading your settings', error);
      }
    };

    /** Show what the cache holds at once, then bring it up to date. */
    const boot = async () => {
      await Promise.all([reload(), loadSettings()]);
      let state: SyncState;
      try {
        state = await syncState();
      } catch (error) {
        report('Reading the sync state', error);
        return;
      }
      isOffline.current = state.offline;
      setOffline(state.offline);
      if (state.offline) return;
      if (state.last !== null) lastEnded.current = state.last.finished_at;
      if (state.running) await follow(state);
      else {
        showState(state);
        if (state.last === null) await start();
      }
    };

    return { report, reload, start, boot };
  }, []);

  useEffect(() => {
    alive.current = true;
    void ops.boot();
    const timer = setInterval(() => {
      const t = Date.now();
      setNow(t);
      const every = lastUnreachable.current ? RETRY_UNREACHABLE_MS : syncEvery.current;
      if (!busy.current && t - lastEnded.current >= every) void ops.start();
    }, TICK_MS);
    return () => {
      alive.current = false;
      clearInterval(timer);
    };
  }, [ops]);

  // Settings take effect at once: the theme on the document, the time
  // zone for every formatted time, the interval for the next auto-sync.
  useEffect(() => {
    syncEvery.current = settings.sync_minutes * 60_000;
    setTimeZone(settings.time_zone);
    return applyTheme(settings.theme, setTheme);
  }, [settings]);

  return {
    overview,
    overviewError,
    settings,
    theme,
    offline,
    saveSettings: async (next) => {
      const saved = await saveSettingsCall(next);
      setSettings(saved);
    },
    sync,
    notices,
    now,
    startSync: () => void ops.start(),
    reload: () => void ops.reload(),
    report: ops.report,
    dismiss: (id) => setNotices((list) => list.filter((n) => n.id !== id)),
  };
}
