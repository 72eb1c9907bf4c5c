import t from 'tap';
// nats.js's own parser, the reference (not in its public exports' types)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseInfo } = require('nats/lib/jetstream/jsmsg') as { parseInfo: (s: string) => { streamSequence: number } };
import { streamSeqOf } from '../../runtime/cluster/stream-seq';

t.test('the stream sequence read from a reply subject equals nats.js parseInfo, in both formats', async (t) => {
  const seqs = [0, 1, 9, 10, 12345, 4294967296, 9007199254740991];
  for (const sseq of seqs) {
    const v1 = `$JS.ACK.EDGELSTM_IN.edgelstm_p7_i0_3.1.${sseq}.42.1760000000000000000.0`;
    const v2 = `$JS.ACK._.ACCHASH.EDGELSTM_IN.edgelstm_p7_i0_3.2.${sseq}.42.1760000000000000000.17.rnd`;
    const v2short = `$JS.ACK.dom.ACCHASH.EDGELSTM_IN.c.1.${sseq}.42.1760000000000000000.0`;
    for (const s of [v1, v2, v2short]) t.equal(streamSeqOf(s), parseInfo(s).streamSequence, s);
  }
});

t.test('anything else is left to nats.js', async (t) => {
  for (const s of ['', '_INBOX.abc', '$JS.ACK.a.b.c', '$JS.ACK.S.C.1.x12.42.1.0', '$JS.ACK.S.C.1..42.1.0', '$JS.ACK.S.C.1.99999999999999999.42.1.0', '$JS.ACK.a.b.c.d.e.f.g.x.i.j']) {
    t.equal(streamSeqOf(s), undefined, JSON.stringify(s));
  }
});
