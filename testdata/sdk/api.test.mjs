// End-to-end tests: a real `cairn serve` driven through the published Pieces SDK
// (@pieces.app/pieces-os-client 4.1.0) and a websocket client. CAIRN_BIN names the
// binary (make test builds it); each test file starts its own daemon on a free
// loopback port with a fresh data folder, and stops it at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import pieces from '@pieces.app/pieces-os-client';

const { Configuration, DatabaseApi, BackupsApi, BackupApi, ResponseError } = pieces;

const bin = resolve(process.env.CAIRN_BIN ?? '../../bin/cairn');
let daemon, base, dataDir, database, backups, backup;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cairn-sdk-'));
  daemon = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: daemon.stdout });
  base = await new Promise((ok, fail) => {
    daemon.once('exit', (code) => fail(new Error(`cairn serve exited with ${code}`)));
    lines.once('line', (line) => ok(line.split(' ')[3]));
  });
  const config = new Configuration({ basePath: base });
  database = new DatabaseApi(config);
  backups = new BackupsApi(config);
  backup = new BackupApi(config);
});

after(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((ok) => daemon.once('exit', ok));
    daemon.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, 'cairn serve stops cleanly on SIGTERM');
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const enc = new TextEncoder();
const bytes = (s) => Array.from(enc.encode(s));
const text = (arr) => new TextDecoder().decode(Uint8Array.from(arr ?? []));
const records = (n, prefix, size) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${prefix}${String(i).padStart(6, '0')}`, text: 'x'.repeat(size) })).join('\n') + '\n';

const emptyDatabase = () => ({
  analyses: [], applications: [], assets: [], codeAnalyses: [], files: [], formatMetrics: [], formats: [],
  fragments: [], imageAnalyses: [], models: [], ocrAnalyses: [], persons: [], sensitives: [], tags: [], websites: [],
  values: { iterable: [] }, version: '11.2.0',
});

// status of a failed SDK call
async function statusOf(promise) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ResponseError, `expected an HTTP error, got ${err}`);
    const body = await err.response.json();
    assert.equal(body.status, err.response.status);
    assert.ok(body.message.length > 0);
    return err.response.status;
  }
  assert.fail('the call succeeded');
}

function websocketFrames(path) {
  return new Promise((ok, fail) => {
    const frames = [];
    const ws = new WebSocket(base.replace('http', 'ws') + path);
    ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
    ws.on('close', (code) => (code === 1000 ? ok(frames) : fail(new Error(`websocket closed with ${code}`))));
    ws.on('error', fail);
  });
}

test('import, export, back up, restore, delete through the SDK', async () => {
  const db = emptyDatabase();
  db.assets = bytes(records(200, 'asset-', 300));
  db.formats = bytes(records(500, 'format-', 1200));
  db.tags = bytes(records(50, 'tag-', 10));
  db.anchors = bytes(records(3, 'anchor-', 5));
  db.values = { iterable: [{ id: 'v1', raw: [0, 1, 2, 255] }] };
  await database.databaseImport({ exportedDatabase: db });

  const exported = await database.databaseExport();
  assert.equal(exported.version, '11.2.0');
  assert.equal(text(exported.assets), text(db.assets));
  assert.equal(text(exported.formats), text(db.formats));
  assert.equal(text(exported.anchors), text(db.anchors));
  assert.deepEqual(exported.values.iterable.map((v) => [v.id, v.raw]), [['v1', [0, 1, 2, 255]]]);

  const created = await backups.backupsCreateNewBackup({ seededBackup: {} });
  assert.match(created.id, /^11\.2\.0_\d+$/);
  assert.equal(created.version, '11.2.0');
  assert.ok(created.bytes > 0);
  assert.ok(created.created.value instanceof Date && !isNaN(created.created.value));
  assert.ok(created.deviceName.length > 0);

  const list = await backups.backupsSnapshot();
  assert.deepEqual(list.iterable.map((b) => b.id), [created.id]);
  assert.equal((await backup.backupSpecificBackupSnapshot({ backup: created.id })).id, created.id);
  const status = await backup.backupSpecificCreationStatus({ backup: created.id });
  assert.equal(status.value, 'COMPLETED');
  assert.equal(status.percentage, 100);

  // Change the database, then restore the backup: the database is the snapshot again.
  const change = emptyDatabase();
  change.tags = bytes(records(5, 'zzz-', 3));
  await database.databaseImport({ exportedDatabase: change });
  assert.notEqual(text((await database.databaseExport()).tags), text(db.tags));
  const restored = await backup.backupRestoreSpecificBackup({ backup: created.id });
  assert.equal(restored.id, created.id);
  const again = await database.databaseExport();
  assert.equal(text(again.tags), text(db.tags));
  assert.equal(text(again.formats), text(db.formats));
  assert.equal((await backup.backupSpecificRestorationStatus({ backup: created.id })).value, 'COMPLETED');

  // The streamed forms answer with the final progress frame.
  const streamed = await backups.backupsCreateNewBackupStreamed({ seededBackup: {} });
  assert.equal(streamed.status, 'COMPLETED');
  assert.equal(streamed.percentage, 100);
  const restoredStreamed = await backup.backupRestoreSpecificBackupStreamed({ backup: streamed.backup.id });
  assert.equal(restoredStreamed.status, 'COMPLETED');

  const progress = await backups.backupsStreamedProgress();
  assert.deepEqual([progress.backups, progress.restorations], [[], []]);

  await backups.backupsDeleteSpecificBackup({ backup: streamed.backup.id });
  assert.equal(await statusOf(backup.backupSpecificBackupSnapshot({ backup: streamed.backup.id })), 404);
});

test('progress frames over websockets', async () => {
  const create = await websocketFrames('/backups/create/streamed/websocket');
  assert.ok(create.length >= 1);
  const last = create.at(-1);
  assert.equal(last.status, 'COMPLETED');
  assert.equal(last.percentage, 100);
  const restore = await websocketFrames(`/backup/${last.backup.id}/restore/streamed/websocket`);
  assert.equal(restore.at(-1).status, 'COMPLETED');
});

test('assets backups', async () => {
  const now = new Date();
  const asset = { id: 'sdk-asset-1', creator: 'sdk', created: { value: now }, updated: { value: now }, mechanism: 'MANUAL' };
  await backup.backupAsset({ asset });
  await backup.backup({ assets: { iterable: [{ ...asset, id: 'sdk-asset-2' }, { ...asset, id: 'sdk-asset-3' }] } });
  const exported = await database.databaseExport();
  for (const id of ['sdk-asset-1', 'sdk-asset-2', 'sdk-asset-3']) {
    assert.ok(text(exported.assets).includes(`"id":"${id}"`), `${id} is in the database`);
  }
});

test('cancel', async () => {
  const list = await backups.backupsSnapshot();
  const id = list.iterable[0].id;
  // Nothing running: the documented 500.
  assert.equal(await statusOf(backup.backupSpecificCreationCancel({ backup: id })), 500);
  assert.equal(await statusOf(backup.backupSpecificRestorationCancel({ backup: id })), 500);
  // A restore cancelled while it runs leaves the database as it was; one that
  // finished first is COMPLETED and its cancel finds nothing to cancel.
  const big = emptyDatabase();
  big.formats = bytes(records(6000, 'big-', 1500));
  await database.databaseImport({ exportedDatabase: big });
  const bigBackup = await backups.backupsCreateNewBackup({ seededBackup: {} });
  const change = emptyDatabase();
  change.tags = bytes(records(1, 'changed-', 1));
  await database.databaseImport({ exportedDatabase: change });
  const before = await database.databaseExport();
  const running = backup.backupRestoreSpecificBackup({ backup: bigBackup.id }).then(() => 'done', (e) => e.response?.status);
  let cancelled = false;
  try {
    await backup.backupSpecificRestorationCancel({ backup: bigBackup.id });
    cancelled = true;
  } catch (err) {
    assert.equal(err.response.status, 500);
  }
  const outcome = await running;
  const state = (await backup.backupSpecificRestorationStatus({ backup: bigBackup.id })).value;
  console.log(`cancel: ${cancelled ? 'cancelled while running' : 'restore finished first'}`);
  if (cancelled) {
    assert.equal(state, 'CANCELED');
    assert.notEqual(outcome, 'done');
    assert.deepEqual(await database.databaseExport(), before);
  } else {
    assert.equal(state, 'COMPLETED');
    assert.equal(outcome, 'done');
  }
});

test('errors are documented codes with JSON bodies', async () => {
  assert.equal(await statusOf(backup.backupSpecificBackupSnapshot({ backup: '11.2.0_1' })), 404);
  assert.equal(await statusOf(backup.backupSpecificBackupSnapshot({ backup: '../etc_1' })), 400);
  assert.equal(await statusOf(backup.backupSpecificBackupSnapshot({ backup: 'not-an-id' })), 400);
  assert.equal(await statusOf(backup.backupSpecificBackupSnapshot({ backup: '✓_1' })), 400);
  assert.equal(await statusOf(backup.backupRestoreSpecificBackup({ backup: '11.2.0_1' })), 404);
  const bad = emptyDatabase();
  bad.assets = bytes('{"id":"ok"}\nnot json\n');
  const before = await database.databaseExport();
  assert.equal(await statusOf(database.databaseImport({ exportedDatabase: bad })), 400);
  assert.deepEqual(await database.databaseExport(), before, 'a failed import changes nothing');

  const raw = (path, body, headers = {}) =>
    fetch(base + path, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
  for (const [body, code] of [['{', 400], ['{"bogus":1}', 400], ['{"schema":"x"}', 400], [' '.repeat(17 << 20), 413]]) {
    const res = await raw('/backups/create', body);
    assert.equal(res.status, code, body.slice(0, 20));
    assert.ok((await res.json()).message);
  }
  // fetch will not send another Host header; node:http will.
  const rebinding = await new Promise((ok, fail) => {
    http.get(base + '/backups', { headers: { Host: 'evil.example' } }, (res) => { res.resume(); ok(res.statusCode); }).on('error', fail);
  });
  assert.equal(rebinding, 403);
  assert.equal((await backups.backupsSnapshot()).iterable.length > 0, true, 'still serving');
});
