#!/usr/bin/env node
// `npm run node-red`: a local Node-RED with the edgelstm nodes (this checkout, linked into
// the user directory) and both example flows deployed. The MQTT example talks to an
// embedded broker on a free port, fed by three simulated sensors, so it shows results
// with nothing else installed.
//
//   node scripts/node-red-dev.js [--port 1880] [--user-dir DIR] [--keep-flows]
'use strict';
const { spawn } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, lstatSync, unlinkSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const userDir = resolve(opt('--user-dir') ?? join(tmpdir(), 'edgelstm-node-red'));
const keepFlows = args.includes('--keep-flows');

function portFree(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

async function main() {
  if (!existsSync(join(ROOT, 'dist/nodes/edgelstm-anomaly/edgelstm-anomaly.js'))) {
    console.error('node-red-dev: build first (npm run node-red does)');
    process.exit(1);
  }
  const { startEmbeddedBroker } = require(join(ROOT, 'dist/runtime/service/embedded-broker.js'));
  let port = Number(opt('--port') ?? 1880);
  if (opt('--port') === undefined && !(await portFree(port))) {
    // 1880 is taken (another Node-RED?): any free port will do.
    const s = createServer();
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    port = s.address().port;
    await new Promise((r) => s.close(r));
  }

  // The package, linked (not installed) into the user directory: edits + `npm run build` show on restart.
  const link = join(userDir, 'node_modules', 'edgelstm');
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  if (isLink(link)) unlinkSync(link);
  else if (existsSync(link)) {
    console.error(`node-red-dev: ${link} is an installed copy; use another --user-dir`);
    process.exit(1);
  }
  symlinkSync(ROOT, link, process.platform === 'win32' ? 'junction' : 'dir');

  const broker = await startEmbeddedBroker(0);
  const flowsFile = join(userDir, 'flows.json');
  let flows;
  if (keepFlows && existsSync(flowsFile)) flows = JSON.parse(readFileSync(flowsFile, 'utf8'));
  else flows = ['simulated-sensors.json', 'mqtt-anomaly.json'].flatMap((f) => JSON.parse(readFileSync(join(ROOT, 'examples', f), 'utf8')));
  flows = flows.map((n) => (n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(broker.port) } : n));
  writeFileSync(flowsFile, JSON.stringify(flows, null, 2));
  const settings = join(userDir, 'settings.js');
  writeFileSync(
    settings,
    `module.exports = {
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  credentialSecret: false,
  editorTheme: { tours: false, projects: { enabled: false } },
  telemetry: { enabled: false },
  diagnostics: { enabled: false }
};\n`,
  );

  // Three sensors publishing on sensors/<device>, with a spike on pump-b now and then.
  const mqtt = require('mqtt');
  const client = await mqtt.connectAsync(broker.url, { clientId: 'edgelstm-dev-sensors' });
  let tick = 0;
  const sensors = setInterval(() => {
    tick++;
    for (const [i, d] of ['pump-a', 'pump-b', 'pump-c'].entries()) {
      let v = 50 + 10 * Math.sin((tick + 11 * i) / 20) + (Math.random() - 0.5);
      if (d === 'pump-b' && tick > 300 && tick % 250 === 0) v += 40;
      client.publish(`sensors/${d}`, v.toFixed(2));
    }
  }, 200);

  const child = spawn(process.execPath, [join(ROOT, 'node_modules/node-red/red.js'), '-u', userDir, '-p', String(port), '-s', settings], { stdio: 'inherit' });
  console.log(`\nedgelstm: Node-RED at http://127.0.0.1:${port}/ (user dir ${userDir}); MQTT broker ${broker.url}, sensors publishing on sensors/<device>\n`);
  const stop = () => child.kill('SIGINT');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', async (code) => {
    clearInterval(sensors);
    await client.endAsync();
    await broker.close();
    process.exit(code ?? 0);
  });
}

function isLink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
