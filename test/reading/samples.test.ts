import t from 'tap';
import { EdgeLstmError } from '../../runtime/errors';
import { readSamples, toSamples, type DeviceSource } from '../../runtime/reading/samples';

const features = ['temp', 'rpm'];
const base = { features, deviceField: 'device', maxBytes: 1024 };
const named = (id: string | undefined): DeviceSource => ({ id, missing: () => new EdgeLstmError('E_BAD_DEVICE', 'no device', { field: 'device' }) });

t.test('the transport\'s device id wins over the payload\'s; values in feature order; ts kept', async (t) => {
  const p = Buffer.from(JSON.stringify({ device: 'from-payload', rpm: 2, temp: 1, ts: 5 }));
  t.same(readSamples(p, { ...base, device: named('from-topic') }), [{ device: 'from-topic', ts: 5, values: [1, 2] }]);
  t.same(readSamples(p, { ...base, device: named(undefined) }), [{ device: 'from-payload', ts: 5, values: [1, 2] }]);
  t.same(toSamples([{ values: [3, 4] }], features, named('x')), [{ device: 'x', values: [3, 4] }], 'no ts: none made up');
});

t.test('errors name what is wrong, and nothing is returned', async (t) => {
  t.throws(() => readSamples(Buffer.from('[1, 2]'), { ...base, device: named(undefined) }), { code: 'E_BAD_DEVICE' }, 'no device anywhere: the source\'s error');
  t.throws(() => readSamples(Buffer.from('{"temp": 1}'), { ...base, device: named('d') }), { code: 'E_PAYLOAD', details: { field: 'rpm' } }, 'a feature missing');
  t.throws(() => readSamples(Buffer.from('1'), { ...base, feature: 'pressure', device: named('d') }), { code: 'E_TOPIC', details: { field: 'feature', found: 'pressure' } }, 'a topic naming an unknown feature');
  t.same(readSamples(Buffer.from('7'), { ...base, features: ['temp'], feature: 'temp', device: named('d') }), [{ device: 'd', values: [7] }]);
});
