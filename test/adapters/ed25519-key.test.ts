/**
 * The audit signing key file (adapters/system/ed25519-key.ts): created private on first use,
 * reused on the next start, refused when others can read it, never overwritten by a concurrent
 * start; and the public half as auditors get it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  AuditKeyError,
  ephemeralSigningKey,
  loadOrCreateSigningKey,
  loadPublicKey,
  loadSigningKey,
} from '../../src/adapters/system/ed25519-key.js';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';

const fresh = (): string => mkdtempSync(join(tmpdir(), 'warden-key-'));
const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('audit signing key file', () => {
  it('is created on first use: directory 0700, file 0600, a PKCS#8 Ed25519 PEM', () => {
    const dir = join(fresh(), 'nested', '.warden');
    const path = join(dir, 'audit-signing.key');
    const signer = loadOrCreateSigningKey(path);
    assert.equal(modeOf(dir), 0o700);
    assert.equal(modeOf(path), 0o600);
    const pem = readFileSync(path, 'utf8');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    assert.equal(signer.keyId, createHash('sha256').update(spki).digest('hex').slice(0, 16));
    assert.ok(signer.publicKey.verify('payload', signer.sign('payload')));
    assert.ok(!signer.publicKey.verify('payload!', signer.sign('payload')));
  });

  it('is reused by the next start, with the same key id and signatures that verify across', () => {
    const path = join(fresh(), 'audit-signing.key');
    const first = loadOrCreateSigningKey(path);
    const before = readFileSync(path, 'utf8');
    const second = loadOrCreateSigningKey(path);
    assert.equal(readFileSync(path, 'utf8'), before);
    assert.equal(second.keyId, first.keyId);
    assert.ok(second.publicKey.verify('x', first.sign('x')));
  });

  it('is never overwritten when several processes start at once: all end with one key', async () => {
    const path = join(fresh(), 'audit-signing.key');
    const script = `
      const { loadOrCreateSigningKey } = await import(${JSON.stringify(
        new URL('../../src/adapters/system/ed25519-key.ts', import.meta.url).href,
      )});
      process.stdout.write(loadOrCreateSigningKey(${JSON.stringify(path)}).keyId);
    `;
    const ids = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(
              process.execPath,
              ['--import', 'tsx', '--input-type=module', '-e', script],
              { stdio: ['ignore', 'pipe', 'inherit'] },
            );
            let out = '';
            child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
            child.on('error', reject);
            child.on('exit', (code) => {
              if (code === 0) resolve(out);
              else reject(new Error(`exit ${String(code)}`));
            });
          }),
      ),
    );
    assert.equal(new Set(ids).size, 1, ids.join(' '));
    assert.equal(loadSigningKey(path).keyId, ids[0]);
    assert.equal(modeOf(path), 0o600);
  });

  it('is refused when its group or others can read it, saying to chmod 600', () => {
    const path = join(fresh(), 'audit-signing.key');
    loadOrCreateSigningKey(path);
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(path, mode);
      assert.throws(
        () => loadOrCreateSigningKey(path),
        (error: unknown) =>
          error instanceof AuditKeyError &&
          error.message.includes('readable by group or others') &&
          error.message.includes(`chmod 600 ${path}`),
      );
      assert.throws(() => loadSigningKey(path), AuditKeyError);
    }
    chmodSync(path, 0o400);
    assert.ok(loadSigningKey(path).keyId);
  });

  it('is refused when it is not an Ed25519 private key', () => {
    const dir = fresh();
    const rsa = join(dir, 'rsa.key');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
      { mode: 0o600 },
    );
    assert.throws(() => loadSigningKey(rsa), /need an Ed25519 key/);
    const junk = join(dir, 'junk.key');
    writeFileSync(junk, 'not a key', { mode: 0o600 });
    assert.throws(() => loadOrCreateSigningKey(junk), /not a PEM private key/);
    assert.equal(readFileSync(junk, 'utf8'), 'not a key', 'an unusable key is never replaced');
  });

  it('gives auditors a public key (PEM) that checks signatures, loadable from either file', () => {
    const dir = fresh();
    const path = join(dir, 'audit-signing.key');
    const signer = loadOrCreateSigningKey(path);
    const pub = join(dir, 'audit.pub');
    writeFileSync(pub, signer.publicKey.pem);
    assert.match(signer.publicKey.pem, /^-----BEGIN PUBLIC KEY-----\n/);
    const fromPublic = loadPublicKey(pub);
    const fromPrivate = loadPublicKey(path);
    assert.equal(fromPublic.keyId, signer.keyId);
    assert.equal(fromPrivate.keyId, signer.keyId);
    const signature = signer.sign('{"at":"x","hash":"y","seq":1}');
    assert.ok(fromPublic.verify('{"at":"x","hash":"y","seq":1}', signature));
    assert.throws(() => loadPublicKey(join(dir, 'missing.pub')), /no public key at/);
  });

  it('ephemeral keys differ per process use and never touch the disk', () => {
    const a = ephemeralSigningKey();
    const b = ephemeralSigningKey();
    assert.notEqual(a.keyId, b.keyId);
    assert.ok(!b.publicKey.verify('x', a.sign('x')));
  });
});
