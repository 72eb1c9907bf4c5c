import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeLstmError } from '../../runtime/errors';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand } from '../../runtime/cli/command';
import { formatSignatureFile, generateSigningKeyPair, keyId, modelSha256, parseEd25519Key, parseSignatureFile, readSignatureFile, signModelDigest, signaturePath, verifyModelDigest } from '../../runtime/model/signature';

/**
 * `edgelstm sign MODEL... --key KEY.pem` writes MODEL.sig beside each model;
 * `edgelstm sign --verify MODEL... --public-key PUB.pem` checks them, as a
 * device does; `edgelstm keygen --out DIR` makes the key pair.
 */

const SIGN_SPECS = {
  key: { type: 'string', description: 'ed25519 private key (PEM, PKCS#8), e.g. from edgelstm keygen', placeholder: 'KEY.pem' },
  verify: { type: 'boolean', description: 'check MODEL.sig against --public-key instead of signing', default: false },
  'public-key': { type: 'string', description: 'with --verify: the ed25519 public key (PEM) devices are configured with', placeholder: 'PUB.pem' },
} satisfies OptionSpecs;

const KEYGEN_SPECS = {
  out: { type: 'string', description: 'folder to write NAME.key.pem (mode 0600) and NAME.pub.pem into', required: true, placeholder: 'DIR' },
  name: { type: 'string', description: 'file name stem of the key pair', default: 'edgelstm-model' },
  force: { type: 'boolean', description: 'overwrite existing key files', default: false },
} satisfies OptionSpecs;

function readOption(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `option --${option}: cannot read ${file}: ${(e as Error).message}`, { field: option, file });
  }
}

function readModel(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new EdgeLstmError('E_MODEL', `cannot read model file: ${(e as Error).message}`, { file });
  }
}

const shortSha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 12);

const SIGN_USAGE = 'edgelstm sign MODEL... --key KEY.pem     (writes MODEL.sig: base64 ed25519 signature over the SHA-256, and the SHA-256)\n       edgelstm sign --verify MODEL... --public-key PUB.pem';

export const main = defineCommand({ usage: SIGN_USAGE, options: SIGN_SPECS, positionals: ['MODEL...'] }, async (o, models) => {
  if (o.verify) {
    if (o['public-key'] === undefined) throw new EdgeLstmError('E_CONFIG', 'option --verify needs --public-key', { field: 'public-key' });
    const pub = readOption(o['public-key'], 'public-key');
    let failed = 0;
    for (const m of models) {
      try {
        const bytes = readModel(m);
        const sha = modelSha256(bytes);
        const raw = await readSignatureFile(m);
        // Against the hash of the file as it is: a file changed after signing fails here.
        verifyModelDigest(sha, raw === undefined ? undefined : parseSignatureFile(raw, signaturePath(m)).signature, pub, m);
        process.stdout.write(`ok   ${m} (sha256 ${shortSha(bytes)}) signed by key ${keyId(parseEd25519Key(pub, 'public', 'option --public-key'))}\n`);
      } catch (e) {
        if (!(e instanceof EdgeLstmError) || e.code !== 'E_SIGNATURE') throw e;
        failed++;
        process.stdout.write(`FAIL ${e.message}\n`);
      }
    }
    return failed === 0 ? 0 : 1;
  }
  if (o.key === undefined) throw new EdgeLstmError('E_CONFIG', 'option --key: expected KEY.pem, found nothing', { field: 'key' });
  const priv = readOption(o.key, 'key');
  const id = keyId(parseEd25519Key(priv, 'private', 'option --key'));
  for (const m of models) {
    const bytes = readModel(m);
    const sha = modelSha256(bytes);
    writeFileSync(signaturePath(m), formatSignatureFile(signModelDigest(sha, priv), sha));
    process.stdout.write(`signed ${m} (sha256 ${shortSha(bytes)}) with key ${id} -> ${signaturePath(m)}\n`);
  }
  return 0;
});

export const keygenMain = defineCommand({ usage: 'edgelstm keygen --out DIR [--name NAME]', options: KEYGEN_SPECS }, async (o) => {
  if (!/^[A-Za-z0-9._-]+$/.test(o.name)) throw new EdgeLstmError('E_CONFIG', `option --name: expected letters, digits, ".", "_" or "-", found ${JSON.stringify(o.name)}`, { field: 'name' });
  const keyFile = join(o.out, `${o.name}.key.pem`);
  const pubFile = join(o.out, `${o.name}.pub.pem`);
  for (const f of [keyFile, pubFile]) {
    if (!o.force && existsSync(f)) throw new EdgeLstmError('E_CONFIG', `${f} exists; keep the old key or pass --force`, { field: 'out', file: f });
  }
  mkdirSync(o.out, { recursive: true });
  const pair = generateSigningKeyPair();
  // The private key never becomes readable by others, not even for an instant.
  writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600, flag: o.force ? 'w' : 'wx' });
  chmodSync(keyFile, 0o600); // --force over an older, looser file
  writeFileSync(pubFile, pair.publicKeyPem, { mode: 0o644, flag: o.force ? 'w' : 'wx' });
  process.stdout.write(`key ${pair.keyId}\n  private ${keyFile}  (keep it off the devices)\n  public  ${pubFile}  (install on the devices)\n`);
  return 0;
});
