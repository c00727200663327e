/** Statistics and the printed table. */

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  // Nearest-rank: the smallest value with at least p% of samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function summarize(values: readonly number[]): { n: number; p50: number | null; p99: number | null; max: number | null } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : null };
}

export function median(values: readonly number[]): number | null {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Deterministic PRNG (mulberry32), so both servers get the same targets in the same order. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Better = 'lower' | 'higher' | 'zero' | '';

export interface Row {
  metric: string;
  unit: string;
  ours: number | null;
  baseline: number | null;
  /** The Socket.IO baseline, when it ran. */
  socketio?: number | null;
  better: Better;
  /** Digits after the point. */
  digits?: number;
}

export function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return String(v);
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(ours: number | null | undefined, baseline: number | null | undefined): string {
  if (ours === null || ours === undefined || baseline === null || baseline === undefined) return 'n/a';
  if (ours === 0 && baseline === 0) return '=';
  if (baseline === 0) return 'n/a';
  return `${(ours / baseline).toFixed(2)}x`;
}

const zeroCheck = (ours: number | null | undefined, other: number | null | undefined) =>
  ours === 0 && other === 0 ? 'ok' : ours === 0 ? 'ok (ours)' : 'NOT ZERO';

/**
 * The header, a rule and the rows, each column as wide as its widest cell: right-aligned where
 * `right(i)` says so (the figures), left-aligned elsewhere.
 */
export function columns(rows: readonly (readonly string[])[], right: (column: number) => boolean): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (right(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)];
}

/** Ours, the raw baseline and (when given) the Socket.IO baseline, each with ours' ratio to it. */
export function table(rows: Row[], oursLabel: string, baselineLabel: string, socketioLabel?: string): string {
  const header = ['metric', 'unit', oursLabel, baselineLabel, 'ours/baseline'];
  if (socketioLabel) header.push(socketioLabel, 'ours/socket.io');
  header.push('better');
  const body = rows.map((r) => {
    const cells = [
      r.metric,
      r.unit,
      fmt(r.ours, r.digits ?? 1),
      fmt(r.baseline, r.digits ?? 1),
      r.better === 'zero' ? zeroCheck(r.ours, r.baseline) : ratio(r.ours, r.baseline),
    ];
    if (socketioLabel) cells.push(fmt(r.socketio, r.digits ?? 1), r.better === 'zero' ? zeroCheck(r.ours, r.socketio) : ratio(r.ours, r.socketio));
    cells.push(r.better === 'zero' ? '0' : r.better);
    return cells;
  });
  const last = header.length - 1;
  return columns([header, ...body], (i) => i !== 0 && i !== 1 && i !== last).join('\n');
}

/** A figure with no baseline to compare with, and what it is expected to be, if anything. */
export interface CheckedRow {
  metric: string;
  unit: string;
  value: number | null;
  digits?: number;
  /** An exact expected value: the check column says ok or not. */
  expect?: number;
  better?: Better;
}

/** The table style above for one column of figures: metric | unit | <label> | expected | check. */
export function checkedTable(rows: CheckedRow[], label: string): string {
  const header = ['metric', 'unit', label, 'expected', 'check'];
  const body = rows.map((r) => [
    r.metric,
    r.unit,
    fmt(r.value, r.digits ?? 1),
    r.expect !== undefined ? fmt(r.expect, 0) : r.better === 'zero' ? '0' : (r.better ?? ''),
    r.expect !== undefined ? (r.value === null ? 'n/a' : r.value === r.expect ? 'ok' : 'UNEXPECTED') : '',
  ]);
  return columns([header, ...body], (i) => i === 2 || i === 3).join('\n');
}
