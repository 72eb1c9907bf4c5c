import t from 'tap';
import { main as run } from '../../runtime/service/run-command';
import { CLUSTER_SPECS } from '../../runtime/cluster/cluster-command';

/** Runs `edgelstm run ...` in process; stdout and stderr captured (assertions wait: tap reports through stdout). */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const so = process.stdout.write.bind(process.stdout);
  const se = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  try {
    return { code: await run(argv), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = so;
    process.stderr.write = se;
  }
}

t.test('run --cluster: the command shell gives its help, options and exit codes', async (t) => {
  const help = await cli(['--cluster', 'nats://127.0.0.1:1', '--help']);
  t.equal(help.code, 0, '--help exits 0');
  t.match(help.out, /^Usage: edgelstm run --cluster nats:\/\/host:4222/);
  for (const name of Object.keys(CLUSTER_SPECS)) t.match(help.out, new RegExp(`--${name}\\b`), `--${name} in the help`);
  t.match(help.out, /--snapshot-interval-ms <number>\s+\.\.\. or this long after its last snapshot \(default: 30000\)/);
  // An instance gets 1/N of the readings: its engine waits longer for batch-mates than the single instance's 2 ms.
  t.match(help.out, /--max-delay-ms <number>\s+longest a reading waits for batch-mates [^\n]*\(default: 20\)/);

  const single = await cli(['--help']);
  t.equal(single.code, 0);
  t.match(single.out, /Cluster mode over NATS JetStream: edgelstm run --cluster/, 'the single-instance help points at cluster mode');

  const cases: [string[], RegExp][] = [
    [['--cluster', 'nats://127.0.0.1:1', '--partitions', '0'], /option --partitions: expected an integer >= 1/],
    [['--cluster=nats://127.0.0.1:1', '--bogus'], /unknown option --bogus/],
    [['--cluster'], /option --cluster: expected a value, found nothing/],
    [['--cluster', 'nats://127.0.0.1:1', '--cluster-publish', 'maybe'], /--cluster-publish/],
    [['--cluster', 'nats://127.0.0.1:1', '--instance', 'a b'], /cluster option instance: expected letters, digits, _ or -/],
    [['--cluster', 'nats://127.0.0.1:1', '--tick-ms', '1000', '--lease-ttl-ms', '2000'], /cluster option leaseTtlMs: expected an integer from 3000 \(3 ticks\)/],
    [['--cluster', 'nats://127.0.0.1:1', 'stray'], /expected no arguments, found 1 argument/],
  ];
  for (const [argv, msg] of cases) {
    const r = await cli(argv);
    t.equal(r.code, 2, `${argv.join(' ')}: bad usage (2)`);
    t.match(r.err, msg, argv.join(' '));
  }
});
