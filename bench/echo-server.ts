/**
 * The baseline of the decision-path benchmark (bench/decision-path.ts): a bare Fastify JSON echo.
 * Same Fastify as the gateway, logger off, default JSON body parser and body limit; one route,
 * `POST /api/v1/jobs`, that answers 200 with the parsed body (serialised by Fastify's default
 * `JSON.stringify`, as there is no response schema). Nothing else: no validation, no auth, no store.
 *
 * Started as a child process by the benchmark: `node --import tsx bench/echo-server.ts [port]`.
 * Prints `echo: listening on http://127.0.0.1:PORT` on stdout once ready; stops on SIGTERM/SIGINT.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/api/v1/jobs', (request) => request.body);

const address = await app.listen({ port: Number(process.argv[2] ?? 0), host: '127.0.0.1' });
process.stdout.write(`echo: listening on ${address}\n`);

await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await app.close();
