/** Path and host constraint checks of the worker side (§6), as pure functions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  findArgumentViolation,
  hostOf,
  hostViolation,
  normalizePath,
  pathViolation,
} from '../../src/sdk/constraints.js';

const paths = { allowed_paths: ['/srv/work/**'], denied_paths: ['/srv/work/secrets/**'] };
const hosts = { allowed_hosts: ['api.example.com', '*.example.org'], denied_hosts: ['*.internal'] };

describe('path constraints', () => {
  it('normalises before matching, so .. cannot escape', () => {
    assert.equal(normalizePath('/srv/work/../../etc/passwd'), '/etc/passwd');
    assert.equal(normalizePath('./a//b/./c', '/srv/work'), '/srv/work/a/b/c');
    assert.equal(normalizePath('../../..', '/srv'), '/');
    assert.equal(pathViolation('/srv/work/a/b.txt', paths), null);
    assert.match(
      pathViolation('/srv/work/../etc/x', paths)?.message ?? '',
      /path "\/srv\/work\/\.\.\/etc\/x" \(\/srv\/etc\/x\) is outside allowed_paths/,
    );
  });

  it('lets a deny win over an allow', () => {
    const violation = pathViolation('/srv/work/secrets/key.pem', paths);
    assert.ok(violation !== null);
    assert.equal(violation.constraint, 'denied_paths');
    assert.match(violation.message, /is in denied_paths/);
  });

  it('resolves relative paths against the base directory', () => {
    assert.equal(pathViolation('./out.txt', paths, '/srv/work/job'), null);
    assert.equal(pathViolation('./out.txt', paths, '/tmp')?.constraint, 'allowed_paths');
  });

  it('imposes nothing without path constraints', () => {
    assert.equal(pathViolation('/etc/passwd', {}), null);
  });
});

describe('host constraints', () => {
  it('takes the host of a URL, lowercased, without a trailing dot', () => {
    assert.equal(hostOf('https://API.Example.com./v1?q=1'), 'api.example.com');
    assert.equal(hostOf('http://[::1]:8080/'), '::1');
    assert.equal(hostOf('api.example.com'), 'api.example.com');
  });

  it('matches host globs by dot-segment', () => {
    assert.equal(hostViolation('https://api.example.com/x', hosts), null);
    assert.equal(hostViolation('https://a.example.org', hosts), null);
    assert.equal(hostViolation('https://a.b.example.org', hosts)?.constraint, 'allowed_hosts');
    assert.equal(hostViolation('https://db.internal', hosts)?.constraint, 'denied_hosts');
    assert.match(
      hostViolation('https://evil.com/', hosts)?.message ?? '',
      /host "evil.com" is outside allowed_hosts/,
    );
  });
});

describe('argument checks', () => {
  const both = { ...paths, ...hosts };

  it('finds a path or URL anywhere in the payload', () => {
    assert.equal(
      findArgumentViolation({ a: [{ b: '/srv/work/x' }], u: 'https://api.example.com' }, both),
      null,
    );
    assert.equal(
      findArgumentViolation({ a: [{ b: ['/etc/passwd'] }] }, both)?.value,
      '/etc/passwd',
    );
    assert.equal(findArgumentViolation(['file:///etc/hosts'], both)?.constraint, 'allowed_paths');
    assert.equal(
      findArgumentViolation({ u: 'http://db.internal/' }, both)?.constraint,
      'denied_hosts',
    );
  });

  it('leaves other strings alone', () => {
    assert.equal(findArgumentViolation({ cmd: 'make all', n: 3, note: 'see /etc' }, both), null);
  });

  it('checks nothing when the job has no path or host constraints', () => {
    assert.equal(findArgumentViolation({ f: '/etc/passwd' }, { max_runtime_sec: 5 }), null);
  });
});
