/**
 * A reference point of the decision-path benchmark (bench/decision-path.ts): the Fastify echo
 * plus what durability alone costs. Each `POST /api/v1/jobs` body is stored as one row of one
 * SQLite table (WAL, synchronous=NORMAL, the gateway's defaults), with the requests of one turn
 * of the event loop committed together (group commit, as the gateway does), and answered 201
 * with the row's id only after its commit. No validation, decision, audit chain or indexes.
 *
 * Started as a child process by the benchmark:
 * `node --import tsx bench/durable-echo-server.ts DB_FILE [port]`. Prints
 * `durable-echo: listening on http://127.0.0.1:PORT` on stdout once ready; stops on
 * SIGTERM/SIGINT.
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: durable-echo-server.ts DB_FILE [port]');
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
const insert = db.prepare<[string]>('INSERT INTO bodies (body) VALUES (?)');

interface Pending {
  readonly body: string;
  readonly stored: (id: number) => void;
}
let pending: Pending[] = [];
const commitAll = db.transaction((batch: readonly Pending[]) =>
  batch.map(({ body }) => Number(insert.run(body).lastInsertRowid)),
);

function commit(): void {
  const batch = pending;
  pending = [];
  const ids = commitAll(batch);
  batch.forEach(({ stored }, i) => {
    stored(ids[i] ?? 0);
  });
}

const app = Fastify({ logger: false });
app.post(
  '/api/v1/jobs',
  (request, reply) =>
    new Promise<void>((answered) => {
      if (pending.length === 0) setImmediate(commit);
      pending.push({
        body: JSON.stringify(request.body),
        stored: (id) => {
          void reply.code(201).send({ id });
          answered();
        },
      });
    }),
);

const address = await app.listen({ port: Number(process.argv[3] ?? 0), host: '127.0.0.1' });
process.stdout.write(`durable-echo: listening on ${address}\n`);

await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await app.close();
db.close();
