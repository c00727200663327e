/**
 * `npx tsx bench/heap-summary.ts <before.heapsnapshot> <after.heapsnapshot> [--per N] [--top K]`
 *
 * What grew between two V8 heap snapshots (from `npm run bench -- --heap-snapshots`), by
 * constructor (objects, closures) or kind (strings, arrays, code...): count and self size, and per
 * connection when `--per N` says how many were opened in between.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function aggregate(file: string): Map<string, { count: number; bytes: number }> {
  const s: Snapshot = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const F = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += F) {
    const type = types[s.nodes[i + iType]];
    const name = s.strings[s.nodes[i + iName]];
    let key: string;
    if (type === 'object' || type === 'closure') key = `${type === 'closure' ? 'closure ' : ''}${name}`;
    else if (type === 'string' || type === 'concatenated string' || type === 'sliced string') key = '(strings)';
    else if (type === 'array') key = `(array) ${name}`;
    else if (type === 'hidden' || type === 'native' || type === 'synthetic') key = `(${type}) ${name.slice(0, 60)}`;
    else key = `(${type})`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { per: { type: 'string' }, top: { type: 'string', default: '30' } } });
if (positionals.length !== 2) {
  process.stderr.write('usage: tsx bench/heap-summary.ts <before.heapsnapshot> <after.heapsnapshot> [--per N] [--top K]\n');
  process.exit(2);
}
const [a, b] = positionals.map(aggregate);
const per = values.per ? Number(values.per) : 1;
const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => {
  const x = a.get(k) ?? { count: 0, bytes: 0 };
  const y = b.get(k) ?? { count: 0, bytes: 0 };
  return { k, dCount: y.count - x.count, dBytes: y.bytes - x.bytes };
});
const totalBytes = rows.reduce((s, r) => s + r.dBytes, 0);
const out = [
  `self size grown: ${(totalBytes / 1024).toFixed(0)} KB in all, ${(totalBytes / per / 1024).toFixed(2)} KB per ${per > 1 ? `connection (of ${per})` : 'unit'}`,
  '',
];
out.push(`${'bytes/conn'.padStart(10)} ${'count/conn'.padStart(10)}  what`);
for (const r of rows.sort((p, q) => q.dBytes - p.dBytes).slice(0, Number(values.top))) {
  out.push(`${(r.dBytes / per).toFixed(0).padStart(10)} ${(r.dCount / per).toFixed(2).padStart(10)}  ${r.k}`);
}
process.stdout.write(out.join('\n') + '\n');
