import t from 'tap';
import { compareOutputs, withinTolerance } from '../../deploy/arm/compare-results';
import { cpuinfoFor, TARGETS } from '../../deploy/arm/emulation';

// The comparison the arm emulation checks rest on (npm run check:arm64 / check:armv7 run the emulators themselves).
const rec = (o: object): string => `${JSON.stringify(o)}\n`;
const base = { device: 'a', ts: 1_700_000_000_000, forecast: [20.5], score: 0.25, likelihood: null, anomaly: false, model: 'generic@1.1.0' };

t.test('numbers within 1e-5 * max(1, |a|) agree; the largest difference and where it is are reported', async (t) => {
  const c = compareOutputs(rec(base) + rec(base), rec(base) + rec({ ...base, forecast: [20.5 + 1e-4], score: 0.25 + 5e-6 }), 1e-5);
  t.same(c.mismatches, []);
  t.equal(c.values, 6);
  t.ok(Math.abs(c.maxAbsDiff - 1e-4) < 1e-9);
  t.equal(c.maxAt, 'line 2 .forecast[0]');
  t.ok(withinTolerance(0.5, 0.5 + 9e-6, 1e-5));
  t.notOk(withinTolerance(0.5, 0.5 + 2e-5, 1e-5));
  t.ok(withinTolerance(1e6, 1e6 + 5, 1e-5));
  t.ok(withinTolerance(NaN, NaN, 1e-5));
  t.notOk(withinTolerance(NaN, 0, 1e-5));
});

t.test('anything else must be equal: values beyond tolerance, flags, nulls, keys, lengths, record counts', async (t) => {
  const differs = (b: object, extra = ''): string[] => compareOutputs(rec(base), rec(b) + extra, 1e-5).mismatches;
  t.match(differs({ ...base, score: 0.26 }), [/line 1 \.score: expected 0\.25, found 0\.26 \(diff 1\.00e-2\)/]);
  t.match(differs({ ...base, anomaly: true }), [/\.anomaly: expected false, found true/]);
  t.match(differs({ ...base, likelihood: 0.5 }), [/\.likelihood: expected null, found 0\.5/]);
  t.match(differs({ ...base, forecast: [20.5, 1] }), [/\.forecast: expected 1 elements, found 2/]);
  const { score: _s, ...noScore } = base;
  t.match(differs(noScore), [/\.score: present in only one run/]);
  t.match(differs(base, rec(base)), [/record count: expected 1, found 2/]);
  t.match(compareOutputs('{"a":1}', 'not json', 1e-5).mismatches, [/line 1: not JSON/]);
  // The report keeps the first five and says there were more.
  const many = Array.from({ length: 9 }, (_, i) => rec({ ...base, score: i })).join('');
  t.equal(compareOutputs(many, many.replace(/"score":\d/g, '"score":42'), 1e-5).mismatches.length, 6);
});

t.test('targets: the boards the checks emulate, each with a cpuinfo ONNX Runtime and V8 can parse', async (t) => {
  t.same(TARGETS.arm64.cpus.map((c) => c.cpu), ['cortex-a72', 'cortex-a76']);
  t.equal(TARGETS.armv7.backend, 'wasm');
  for (const spec of Object.values(TARGETS)) {
    for (const { cpu } of spec.cpus) {
      const text = cpuinfoFor(cpu);
      t.match(text, /^processor\t: 0\n/, cpu);
      t.match(text, /CPU implementer\t: 0x41/, cpu);
      t.notMatch(text, /GenuineIntel|AuthenticAMD|flags\t/, cpu);
    }
  }
  t.match(cpuinfoFor('cortex-a72'), /CPU part\t: 0xd08/);
  t.match(cpuinfoFor('cortex-a76'), /asimddp/);
  t.match(cpuinfoFor('cortex-a7'), /Features\t: .*neon.*vfpv4/);
  t.throws(() => cpuinfoFor('pentium'), /no cpuinfo for pentium/);
});
