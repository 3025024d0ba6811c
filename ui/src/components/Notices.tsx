/** The dismissible banner listing failed calls, newest last. */
import type { Notice } from '../state/console';

export function Notices({ notices, dismiss }: { notices: readonly Notice[]; dismiss: (id: number) => void }) {
  if (notices.length === 0) return null;
  return (
    <section id="error-banner" class="notices" role="alert" aria-label="Errors">
      {notices.map((n) => (
        <div class="notice" key={n.id} data-code={n.code}>
          <span class="notice-context">{n.context} failed:</span>{' '}
          <span class="notice-message">{n.message}</span>
          <button type="button" class="notice-dismiss" aria-label="Dismiss" title="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </section>
  );
}
