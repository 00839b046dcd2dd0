/**
 * What each snap was made of (person photo and garment keys), kept in localStorage by job id,
 * so a result can show its "before" after a reload. Job views do not carry their images, and
 * a VTON's person photo is replaced by the next snap of the same garment.
 */

const KEY = 'proteus.snaps';
const LIMIT = 100;

export interface SnapRecord {
  personKey: string;
  garmentKey: string;
  at: string;
}

function read(storage: Storage | undefined): Record<string, SnapRecord> {
  try {
    const parsed = JSON.parse(storage?.getItem(KEY) ?? '{}') as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, SnapRecord>) : {};
  } catch {
    return {};
  }
}

export function rememberSnap(jobId: string, record: SnapRecord, storage: Storage | undefined = globalThis.localStorage): void {
  const all = read(storage);
  all[jobId] = record;
  // keep the newest LIMIT
  const kept = Object.entries(all)
    .sort(([, a], [, b]) => b.at.localeCompare(a.at))
    .slice(0, LIMIT);
  try {
    storage?.setItem(KEY, JSON.stringify(Object.fromEntries(kept)));
  } catch {
    // storage full or off: the result still shows, without its before
  }
}

export function snapOf(jobId: string, storage: Storage | undefined = globalThis.localStorage): SnapRecord | undefined {
  return read(storage)[jobId];
}
