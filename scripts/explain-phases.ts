/**
 * Explanation against forward, in one process: loads a checkpoint folder (timing the load), then
 * runs `--pairs` rounds of a plain forward followed by one explanation of the same ids, each split
 * at the point where explain() has read its logits (its progress callback), so an explanation is
 * shown as its own forward plus the rest (backward sweep, rules, conservation ledger, read-back).
 * Interleaving keeps both sides of each ratio in the same state of a machine whose speed drifts.
 *
 *   npm run build && node --expose-gc dist/scripts/explain-phases.js --dir DIR [--tokens 128] [--pairs 6] [--method pa-lrp] [--seed 1]
 *
 * `--pairs 0` times the load alone (wall and process CPU time).
 *
 * Run it with LRP_DAWN_POLL=immediate to see Dawn's own polling (docs/runtime.md, "Polling").
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { initRuntime } from '../kernels/dawn.js';
import { explainRecorded } from '../lrp/explain.js';
import { isMethodName } from '../lrp/methods.js';
import { loadModel } from '../nn/folder.js';
import { randomIds } from './bench-checkpoint.js';
import { readAndDispose, shmemHugePages } from './bench-shared.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    tokens: { type: 'string', default: '128' },
    pairs: { type: 'string', default: '6' },
    method: { type: 'string', default: 'pa-lrp' },
    seed: { type: 'string', default: '1' },
  },
});
const [tokens, pairs, seed] = [Number(values.tokens), Number(values.pairs), Number(values.seed)];
const method = values.method!;
if (!values.dir || !isMethodName(method) || ![tokens, seed].every((n) => Number.isInteger(n) && n >= 1) || !(Number.isInteger(pairs) && pairs >= 0)) {
  console.error('explain-phases: --dir DIR is required; --tokens, --seed are positive integers, --pairs a count (0: time the load only); --method a method name');
  process.exit(2);
}

const seconds = (t0: number): number => (performance.now() - t0) / 1000;
const rt = await initRuntime();
const bytes = statSync(join(values.dir, 'model.safetensors')).size;
let t0 = performance.now();
const cpu0 = process.cpuUsage();
const model = await loadModel(values.dir);
await rt.sync();
const load = seconds(t0);
const loadCpu = process.cpuUsage(cpu0);
console.log(`load: ${(bytes / 1e6).toFixed(0)} MB in ${load.toFixed(2)} s (${(bytes / 1e6 / load).toFixed(0)} MB/s), ${((loadCpu.user + loadCpu.system) / 1e6).toFixed(2)} s CPU; polling ${process.env['LRP_DAWN_POLL'] || 'throttled'}; shmem huge pages ${shmemHugePages()}; load average ${loadavg()[0]!.toFixed(2)}`);
if (pairs === 0) {
  model.dispose();
  process.exit(0);
}

const ids = randomIds(tokens, model.info.vocabSize, seed);
const forward = async (): Promise<void> => {
  await readAndDispose(tidy(() => noGrad(() => model.forward({ ids: [ids] }, { lastPositionOnly: true }))));
};
let logitsRead = 0;
const explanation = () => explainRecorded(model, { ids: [ids] }, { method }, null, () => (logitsRead ||= performance.now()));
await forward(); // compiles the pipelines
await explanation();

console.log(`\n| pair | forward | explanation | its forward | the rest | explanation / forward |\n|---:|---:|---:|---:|---:|---:|`);
for (let p = 1; p <= pairs; p++) {
  t0 = performance.now();
  await forward();
  const f = seconds(t0);
  logitsRead = 0;
  t0 = performance.now();
  await explanation();
  const e = seconds(t0);
  const own = (logitsRead - t0) / 1000;
  console.log(`| ${p} | ${f.toFixed(2)} s | ${e.toFixed(2)} s | ${own.toFixed(2)} s | ${(e - own).toFixed(2)} s | ${(e / f).toFixed(2)}× |`);
}
console.log(`\n${method}, ${tokens} tokens; load average at end ${loadavg()[0]!.toFixed(2)}`);
model.dispose();
process.exit(0);
