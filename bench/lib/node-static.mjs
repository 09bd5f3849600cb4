// The ceiling for a Node server, for reference: node:http answering from memory with bytes
// read at start. Usage: node node-static.mjs PORT ROOT URLPATH...
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [port, root, ...paths] = process.argv.slice(2);
const files = new Map(paths.map((p) => [p, readFileSync(join(root, p))]));
createServer((req, res) => {
  const body = files.get(req.url);
  if (!body) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
}).listen(Number(port), '127.0.0.1');
