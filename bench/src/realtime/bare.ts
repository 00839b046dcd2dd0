/** The baseline: a bare `ws` server on /updates that accepts and keeps sockets, nothing else. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const server = createServer();
const wss = new WebSocketServer({ server, path: '/updates' });
wss.on('connection', (socket) => socket.send('{"type":"hello"}'));
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
