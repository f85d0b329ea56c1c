/**
 * Where an explanation's dispatches go: loads a checkpoint folder (e.g. one `npm run bench:model
 * -- --dir DIR` wrote), runs one explanation to compile the pipelines, then a second one counted
 * by kernel key and by phase (forward, backward of the ops' own gradients, LRP rules, the
 * conservation ledger, the relevance sums read at the end), and times three more (best of three),
 * with the buffers the pool created and destroyed over them and its peak bytes.
 *
 *   npm run build && node dist/scripts/profile-explain.js --dir DIR [--tokens 128] [--method pa-lrp] [--keys 40] [--rounds 3]
 *
 * The phase of a dispatch is read from the JavaScript stack that recorded it (which module files
 * are on it), so the counting run is slower than a normal one; the timed run is not hooked.
 *
 * Where the device has timestamp queries (lavapipe does), a plain forward (last position's logits,
 * as `lrp forward` runs it) and one more explanation are then run in turn, `--rounds` times, with
 * every dispatch timed on the GPU (`runtime().timeDispatches`): each round's ratio and their
 * median are printed (the machine's speed drifts between rounds, less within one), and the GPU
 * time per round, averaged, by phase, split into the products (matmul) and everything else, and
 * by kernel family.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import type { Launch, TimedWork } from '../kernels/runtime.js';
import type { TimedTag } from '../kernels/dispatchTimer.js';
import { initRuntime } from '../kernels/dawn.js';
import { startMeter } from '../kernels/stats.js';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { explain } from '../lrp/explain.js';
import { isMethodName } from '../lrp/methods.js';
import type { MethodName } from '../lrp/result.js';
import { loadModel } from '../nn/folder.js';
import { randomIds } from './bench-checkpoint.js';
import { readAndDispose } from './bench-shared.js';

interface Options {
  dir: string;
  tokens: number;
  method: MethodName;
  keys: number;
  rounds: number;
}

function parseArgs(argv: string[]): Options {
  const o: Partial<Options> = { tokens: 128, method: 'pa-lrp', keys: 40, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag}: needs a value`);
    if (flag === '--dir') o.dir = value;
    else if (flag === '--tokens') o.tokens = Number(value);
    else if (flag === '--keys') o.keys = Number(value);
    else if (flag === '--rounds') o.rounds = Number(value);
    else if (flag === '--method') {
      if (!isMethodName(value)) throw new Error(`--method: unknown method ${value}`);
      o.method = value;
    } else throw new Error(`unknown option ${flag}`);
  }
  if (!o.dir) throw new Error('--dir DIR is required');
  if (!Number.isInteger(o.rounds) || o.rounds! < 1) throw new Error('--rounds: a whole number >= 1');
  return o as Options;
}

/** The phase a dispatch belongs to, from the module files on the stack that recorded it. */
function phaseOf(stack: string): string {
  if (stack.includes('/lrp/ledger.')) return 'ledger';
  if (stack.includes('/autograd/backward.')) {
    if (stack.includes('/lrp/rules/')) return 'backward: rules';
    if (/at (accumulate|finish) /.test(stack)) return 'backward: accumulate';
    return 'backward: own gradients';
  }
  if (stack.includes('/nn/models/')) return 'forward';
  return 'relevance sums and reads';
}

const table = (title: string, rows: [string, number][]): void => {
  console.log(`\n| ${title} | dispatches |\n|---|---:|`);
  for (const [k, n] of rows) console.log(`| ${k} | ${n} |`);
};

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const rt = await initRuntime();
  const model = await loadModel(o.dir);
  const ids = randomIds(o.tokens, model.info.vocabSize, 1);
  const run = () => explain(model, { ids: [ids] }, { method: o.method });
  console.log(`${model.info.architecture}, ${model.info.layers} layers, ${o.tokens} tokens, ${o.method}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await run();

  const byKey = new Map<string, number>();
  const byPhase = new Map<string, number>();
  const byPhaseKey = new Map<string, number>();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 200;
  // Listeners run inside dispatch(), so the stack still shows who recorded it.
  const stopListening = rt.onDispatch((launch: Launch) => {
    const phase = phaseOf(new Error().stack ?? '');
    // Keys without their rank/dtype suffix group a kernel family's variants.
    const family = launch.key.split('/').slice(0, 2).join('/');
    byKey.set(family, (byKey.get(family) ?? 0) + 1);
    byPhase.set(phase, (byPhase.get(phase) ?? 0) + 1);
    byPhaseKey.set(`${phase} · ${family}`, (byPhaseKey.get(`${phase} · ${family}`) ?? 0) + 1);
  });
  const c0 = rt.counters();
  await run();
  const c1 = rt.counters();
  stopListening();
  Error.stackTraceLimit = limit;

  // Timed runs (unhooked): the best of three, with the process CPU time (lavapipe's threads included).
  let best = { ms: Infinity, cpuMs: 0 };
  let e = await run();
  const c1b = rt.counters();
  const pool0 = rt.memory();
  const meter = startMeter(rt);
  for (let k = 0; k < 3; k++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    e = await run();
    await rt.sync();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (ms < best.ms) best = { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  }
  const c2 = rt.counters();
  const pool1 = rt.memory();
  const peaks = meter.stop();

  console.log(`counted run: ${c1.dispatches - c0.dispatches} dispatches, ${c1.submits - c0.submits} submits`);
  console.log(
    `timed runs (best of 3): ${(best.ms / 1000).toFixed(2)} s wall, ${(best.cpuMs / 1000).toFixed(2)} s CPU; ` +
      `${(c2.dispatches - c1b.dispatches) / 3} dispatches and ${(c2.submits - c1b.submits) / 3} submits each; explained logit ${e.logit.toFixed(4)}; ` +
      `load average after ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  // Buffers the timed runs created: zero once the pool keeps the explanation's working set.
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
  console.log(
    `buffer pool over the timed runs: ${pool1.created - pool0.created} buffers created, ${pool1.destroyed - pool0.destroyed} destroyed; ` +
      `peak ${mib(peaks.peakLiveBytes)} MiB live, ${mib(peaks.peakPoolBytes)} MiB live and idle; ${mib(pool1.liveBytes)} MiB live and ${mib(pool1.idleBytes)} MiB idle after them`,
  );
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  table('phase', sorted(byPhase));
  table('kernel family', sorted(byKey).slice(0, o.keys));
  table('phase · kernel family', sorted(byPhaseKey).slice(0, o.keys));

  if (!rt.canTimeDispatches) {
    console.log('\nThis device has no timestamp-query: no GPU times.');
  } else {
    const familyOf = (work: TimedWork): string => work.key.split('/').slice(0, 2).join('/');
    const isProduct = (tag: string): boolean => tag.includes('matmul/');
    // Copies (the ε-rule's into the product's texture, uploads) are timed too, not counted as dispatches.
    const isCopy = (tag: string): boolean => tag.includes('copy/');
    const forward = () => readAndDispose(tidy(() => noGrad(() => model.forward({ ids: [ids] }, { lastPositionOnly: true }))));
    await forward(); // compiles the forward's own pipelines (lastPositionOnly)
    // Per tag, summed over the rounds (divided by their number below).
    const totals = (into: Map<string, TimedTag>, rows: TimedTag[]): void => {
      for (const r of rows) {
        const t = into.get(r.tag) ?? { ...r, dispatches: 0, seconds: 0 };
        into.set(r.tag, { ...t, dispatches: t.dispatches + r.dispatches, seconds: t.seconds + r.seconds });
      }
    };
    const plainSum = new Map<string, TimedTag>();
    const explainedSum = new Map<string, TimedTag>();
    const ratios: number[] = [];
    const seconds = (rows: TimedTag[]): number => rows.reduce((t, r) => t + r.seconds, 0);
    for (let round = 0; round < o.rounds; round++) {
      let timing = rt.timeDispatches((launch) => `forward · ${familyOf(launch)}`);
      await forward();
      const plainRound = await timing.stop();
      Error.stackTraceLimit = 200;
      timing = rt.timeDispatches((launch) => `${phaseOf(new Error().stack ?? '')} · ${familyOf(launch)}`);
      await run();
      const explainedRound = await timing.stop();
      Error.stackTraceLimit = limit;
      totals(plainSum, plainRound);
      totals(explainedSum, explainedRound);
      ratios.push(seconds(explainedRound) / seconds(plainRound));
      console.log(
        `GPU time, round ${round + 1}: plain forward ${(seconds(plainRound) * 1000).toFixed(0)} ms, explanation ${(seconds(explainedRound) * 1000).toFixed(0)} ms, ` +
          `${ratios[round]!.toFixed(2)}× (load average ${loadavg()[0]!.toFixed(2)})`,
      );
    }
    const middle = [...ratios].sort((a, b) => a - b);
    const median = middle.length % 2 ? middle[(middle.length - 1) / 2]! : (middle[middle.length / 2 - 1]! + middle[middle.length / 2]!) / 2;
    console.log(`GPU time, median over ${o.rounds} rounds: the explanation takes ${median.toFixed(2)}× the plain forward`);
    const perRound = (m: Map<string, TimedTag>): TimedTag[] =>
      [...m.values()].map((r) => ({ ...r, dispatches: r.dispatches / o.rounds, seconds: r.seconds / o.rounds })).sort((a, b) => b.seconds - a.seconds);
    const plain = perRound(plainSum);
    const explained = perRound(explainedSum);
    const sum = (rows: { seconds: number }[]): number => rows.reduce((t, r) => t + r.seconds, 0);
    const split = (rows: { tag: string; seconds: number }[]): [number, number, number] => [sum(rows), sum(rows.filter((r) => isProduct(r.tag))), sum(rows.filter((r) => !isProduct(r.tag)))];
    const phases = new Map<string, typeof explained>();
    for (const r of explained) {
      const phase = r.tag.split(' · ')[0]!;
      phases.set(phase, [...(phases.get(phase) ?? []), r]);
    }
    const [plainAll, plainProducts, plainRest] = split(plain);
    const fmt = (sec: number): string => `${(sec * 1000).toFixed(0)} ms`;
    console.log(`\nGPU time of every dispatch and copy (timestamp queries; one pass per dispatch, two around a copy), per round (mean of ${o.rounds}), load average ${loadavg()[0]!.toFixed(2)}:\n`);
    console.log('| run · phase | dispatches | GPU time | products (matmul) | everything else | × plain forward |\n|---|---:|---:|---:|---:|---:|');
    const row = (name: string, rows: typeof explained): void => {
      const [all, products, rest] = split(rows);
      const n = rows.filter((r) => !isCopy(r.tag)).reduce((t, r) => t + r.dispatches, 0);
      console.log(`| ${name} | ${n} | ${fmt(all)} | ${fmt(products)} | ${fmt(rest)} | ${(all / plainAll).toFixed(2)}× |`);
    };
    row('plain forward', plain);
    for (const [phase, rows] of [...phases.entries()].sort((a, b) => sum(b[1]) - sum(a[1]))) row(`explanation · ${phase}`, rows);
    row('explanation, all phases', explained);
    const [, explainedProducts] = split(explained);
    console.log(
      `\nplain forward: products ${fmt(plainProducts)}, the rest ${fmt(plainRest)}; the explanation's products alone take ` +
        `${(explainedProducts / plainAll).toFixed(2)}× the plain forward's GPU time.`,
    );
    console.log('\n| explanation · phase · kernel family or copy (GPU time) | dispatches or copies | GPU time |\n|---|---:|---:|');
    for (const r of explained.slice(0, o.keys)) console.log(`| ${r.tag} | ${r.dispatches} | ${fmt(r.seconds)} |`);
  }
  model.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
