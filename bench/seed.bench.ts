import { buildMathkidsPack } from '../src/seed/mathkids.ts';
import { buildWordkidsPack } from '../src/seed/wordkids.ts';
import { machine, median } from './support.ts';

/**
 * `npm run bench:seed`: time to build each demo curriculum pack in memory
 * (generation plus its content checks, no database). The first start builds
 * both before seeding; a unit test used to assert a time here, but a timing
 * on two shared cores says more about the neighbours than about the code, so
 * the figure lives in docs/performance.md instead.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

console.log(`kidslearn bench:seed — ${new Date().toISOString()} — ${machine()}`);
for (const [name, build] of [
  ['mathkids', buildMathkidsPack],
  ['wordkids', buildWordkidsPack],
] as const) {
  const first = performance.now();
  const pack = build();
  const cold = performance.now() - first;
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    build();
    times.push(performance.now() - start);
  }
  const items = pack.lessons.reduce((n, l) => n + l.items.length, 0);
  console.log(
    `${name}: ${pack.concepts.length} concepts, ${pack.lessons.length} lessons, ${items} items — first build ${cold.toFixed(1)} ms, then best ${Math.min(...times).toFixed(1)} ms, median ${median(times).toFixed(1)} ms over ${ROUNDS}`,
  );
}
