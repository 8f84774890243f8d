import { createServer } from 'node:http';

/**
 * Baseline (a) of `npm run bench:http`: a bare node:http server that answers
 * every request with the body given on stdin-free argv (a JSON file path).
 */
const body = Buffer.from(process.env.BARE_BODY ?? '{}');
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stderr.write(`bare listening on ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
