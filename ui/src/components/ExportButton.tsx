/**
 * "Export CSV" for a table: sends what the table shows (as text) to the Rust
 * side, which escapes every cell (no formula reaches a spreadsheet) and saves
 * it in the Downloads folder, then says where.
 */
import { useState } from 'preact/hooks';
import type { CsvExport } from '../bindings/CsvExport';
import { asIpcError, exportCsv } from '../ipc';

export function ExportButton({ id, table }: { id: string; table: () => CsvExport }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const save = async () => {
    setStatus(null);
    try {
      const path = await exportCsv(table());
      setStatus({ ok: true, text: `Saved to ${path}` });
    } catch (error) {
      setStatus({ ok: false, text: `Not saved: ${asIpcError(error).message}` });
    }
  };
  return (
    <span class="export">
      <button type="button" id={id} class="button" onClick={() => void save()}>
        Export CSV
      </button>
      {status && (
        <span id={`${id}-status`} class={status.ok ? 'muted' : 'stale'} role="status" data-ok={status.ok}>
          {status.text}
        </span>
      )}
    </span>
  );
}
