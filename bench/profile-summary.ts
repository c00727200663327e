/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--match REGEX]...`
 *
 * Summarizes a V8 CPU profile (from `npm run bench -- --profile`): self time by function and by
 * package (node_modules/<pkg>, src/<dir>, node: internals, GC, idle), and the inclusive (total)
 * time of every frame whose function name or URL matches one of the --match patterns.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, match: { type: 'string', multiple: true, default: [] } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--match REGEX]...\n');
  process.exit(2);
}
const p: Profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from samples and their time deltas (microseconds).
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((a, v) => a + v, 0);

const pkgOf = (n: Node): string => {
  const { url, functionName } = n.callFrame;
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(program)') return '(program)';
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url.split('/')[0];
  const src = /\/(src|bench|migrations)\/([^/]+)/.exec(url);
  if (src) return `${src[1]}/${src[2].replace(/\.ts$/, '')}`;
  return url;
};
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const bySelfFn = new Map<string, number>();
const byPkg = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  bySelfFn.set(label(n), (bySelfFn.get(label(n)) ?? 0) + us);
  byPkg.set(pkgOf(n), (byPkg.get(pkgOf(n)) ?? 0) + us);
}
const busy = total - (byPkg.get('(idle)') ?? 0);
const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const top = Number(values.top);

const out: string[] = [];
out.push(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle; percentages are of the non-idle time`);
out.push('', 'self time by package / source folder:');
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, top)) if (k !== '(idle)') out.push(`  ${pct(v)} ${ms(v)}  ${k}`);
out.push('', 'self time by function:');
for (const [k, v] of [...bySelfFn].sort((a, b) => b[1] - a[1]).slice(0, top)) if (!k.startsWith('(idle)')) out.push(`  ${pct(v)} ${ms(v)}  ${k}`);

if (values.match.length) {
  // Inclusive time: a sample counts once for a pattern if any frame on its stack matches.
  const res = values.match.map((m) => new RegExp(m));
  const incl = new Map<string, number>(values.match.map((m) => [m, 0]));
  const memo = new Map<number, Set<string>>();
  const matchesOnStack = (id: number): Set<string> => {
    const hit = memo.get(id);
    if (hit) return hit;
    const n = byId.get(id)!;
    const up = parent.has(id) ? matchesOnStack(parent.get(id)!) : new Set<string>();
    const s = new Set(up);
    const text = `${n.callFrame.functionName} ${n.callFrame.url}`;
    res.forEach((re, i) => re.test(text) && s.add(values.match[i]));
    memo.set(id, s);
    return s;
  };
  for (const [id, us] of self) for (const m of matchesOnStack(id)) incl.set(m, incl.get(m)! + us);
  out.push('', 'inclusive time of frames matching:');
  for (const [m, v] of incl) out.push(`  ${pct(v)} ${ms(v)}  /${m}/`);
}
process.stdout.write(out.join('\n') + '\n');
