/**
 * Where the store lives (`--db`): parsed once, opened in one place, so every verb and the
 * gateway accept the same forms.
 */
import { SqliteStore } from '../adapters/sqlite/sqlite-store.js';
import type { SqliteStoreOptions } from '../adapters/sqlite/sqlite-store.js';

export interface StoreLocation {
  readonly kind: 'sqlite';
  readonly path: string;
  /** The text it was parsed from, for messages. */
  readonly url: string;
}

/** Parses `sqlite:PATH`; throws an Error whose message says what is accepted. */
export function parseStoreLocation(url: string): StoreLocation {
  if (url.startsWith('sqlite:') && url.length > 'sqlite:'.length) {
    return { kind: 'sqlite', path: url.slice('sqlite:'.length), url };
  }
  throw new Error(`unsupported store "${url}": use sqlite:PATH`);
}

export function openStore(
  location: StoreLocation,
  options: Omit<SqliteStoreOptions, 'path'> = {},
): SqliteStore {
  return new SqliteStore({ path: location.path, ...options });
}
