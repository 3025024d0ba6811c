/**
 * Loads a view's data from the cache through one IPC command, again after
 * every sync (the shared overview is reloaded when a sync ends), and keeps
 * the last good answer on screen while a reload is in flight or fails.
 */
import { useEffect, useState } from 'preact/hooks';
import type { IpcError } from '../bindings/IpcError';
import { asIpcError } from '../ipc';
import type { ConsoleState } from '../state/console';

export interface Cached<T> {
  data: T | null;
  error: IpcError | null;
}

/** `deps`: what else `load` reads (a time window...): a change reloads too. */
export function useCached<T>(state: ConsoleState, load: () => Promise<T>, deps: readonly unknown[] = []): Cached<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  useEffect(() => {
    let alive = true;
    load().then(
      (next) => {
        if (!alive) return;
        setData(next);
        setError(null);
      },
      (failure: unknown) => {
        if (alive) setError(asIpcError(failure));
      },
    );
    return () => {
      alive = false;
    };
    // `overview` is a new object after every sync and every reload.
  }, [state.overview, ...deps]);
  return { data, error };
}
