/**
 * The console's views and the hash route that picks one (`#/fleet`). A view
 * is a component over the shared `ConsoleState`; adding one is one entry
 * here. `#/tenant/<id>/<region>` carries its tenant in the hash.
 */
import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ConsoleState } from './state/console';
import { CostView } from './views/cost/CostView';
import { FleetView } from './views/fleet/FleetView';
import { IncidentsView } from './views/incidents/IncidentsView';
import { SettingsView } from './views/settings/SettingsView';
import { SourcesView } from './views/sources/SourcesView';
import { TenantView } from './views/tenant/TenantView';

export interface ViewProps {
  state: ConsoleState;
}

export interface ViewRoute {
  /** The hash path: `#/<id>`. */
  id: string;
  label: string;
  component: FunctionComponent<ViewProps>;
}

export const VIEWS: readonly [ViewRoute, ...ViewRoute[]] = [
  { id: 'fleet', label: 'Fleet', component: FleetView },
  { id: 'incidents', label: 'Incidents', component: IncidentsView },
  { id: 'tenant', label: 'Tenant', component: TenantView },
  { id: 'cost', label: 'Cost', component: CostView },
  { id: 'sources', label: 'Sources', component: SourcesView },
  { id: 'settings', label: 'Settings', component: SettingsView },
];

function fromHash(hash: string): ViewRoute {
  const id = hash.replace(/^#\/?/, '').split('/')[0];
  return VIEWS.find((view) => view.id === id) ?? VIEWS[0];
}

export function useRoute(): ViewRoute {
  const [route, setRoute] = useState(() => fromHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(fromHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
