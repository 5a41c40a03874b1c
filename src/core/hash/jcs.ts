/**
 * RFC 8785 JSON Canonicalization Scheme. Job hashes, audit hashes and policy snapshot ids are
 * computed over this form, so it must be byte-stable across runs, platforms and key orders.
 *
 * Written with plain loops and string appends: it runs for every job and every audit event, and
 * the intermediate arrays of a map/filter/join version cost more than the serialisation itself.
 */

/** Canonical JSON text of a JSON-compatible value. Throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('JCS: non-finite number');
      // ECMAScript number serialisation is exactly the RFC 8785 number form.
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += canonicalJson(value[i]);
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order RFC 8785 requires.
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      let out = '{';
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (out.length > 1) out += ',';
        out += `${JSON.stringify(key)}:${canonicalJson(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`JCS: cannot canonicalise a ${typeof value}`);
  }
}
