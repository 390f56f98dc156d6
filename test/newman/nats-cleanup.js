#!/usr/bin/env node
// Deletes the JetStream streams (and with them their consumers) that one test
// run created under its namespace, so that repeated runs against a shared NATS
// server do not pile up streams. Best effort and bounded: it speaks the plain
// NATS protocol (no client library needed) and gives up after 5 seconds.
//
// Tungsten names a producer's stream UPPER(namespace + "_" + producer) and its
// subjects namespace + "." + event type (internal/platform/events).
//
// usage: node nats-cleanup.js nats://127.0.0.1:4222 NAMESPACE
'use strict';

const net = require('net');

const [url, namespace] = process.argv.slice(2);
if (!url || !namespace) {
  console.error('usage: nats-cleanup.js NATS_URL NAMESPACE');
  process.exit(2);
}
const { hostname, port } = new URL(url);
const streamPrefix = `${namespace}_`.toUpperCase();
const inbox = `_INBOX.tungsten_cleanup_${process.pid}_${Date.now()}`;

const timer = setTimeout(() => {
  console.error('nats-cleanup: timed out');
  process.exit(1);
}, 5000);

const sock = net.connect({ host: hostname, port: Number(port) || 4222 });
let buf = Buffer.alloc(0);
let pendingDeletes = -1; // -1: still waiting for the stream names
let deleted = 0;

function send(s) { sock.write(s); }
function request(subject, replyTo, body) {
  const payload = Buffer.from(body);
  send(`PUB ${subject} ${replyTo} ${payload.length}\r\n`);
  sock.write(payload);
  send('\r\n');
}

function finish(code) {
  clearTimeout(timer);
  sock.end();
  if (code === 0) console.log(`nats-cleanup: deleted ${deleted} stream(s) of namespace ${namespace}`);
  process.exit(code);
}

function onMessage(subject, payload) {
  let resp;
  try { resp = JSON.parse(payload); } catch { resp = {}; }
  if (subject === `${inbox}.names`) {
    if (resp.error) { console.error(`nats-cleanup: listing streams: ${resp.error.description}`); return finish(1); }
    const names = (resp.streams || []).filter((n) => n.startsWith(streamPrefix));
    pendingDeletes = names.length;
    if (names.length === 0) return finish(0);
    names.forEach((n) => request(`$JS.API.STREAM.DELETE.${n}`, `${inbox}.del`, ''));
    return undefined;
  }
  if (subject === `${inbox}.del`) {
    if (resp.success) deleted++;
    else if (resp.error) console.error(`nats-cleanup: deleting a stream: ${resp.error.description}`);
    if (--pendingDeletes === 0) finish(0);
  }
  return undefined;
}

sock.on('connect', () => {
  send('CONNECT {"verbose":false,"pedantic":false,"name":"tungsten-nats-cleanup"}\r\n');
  send(`SUB ${inbox}.* 1\r\n`);
  request('$JS.API.STREAM.NAMES', `${inbox}.names`, JSON.stringify({ subject: `${namespace}.>` }));
});

// Protocol lines end in CRLF; a MSG line announces a payload of N bytes.
sock.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (;;) {
    const eol = buf.indexOf('\r\n');
    if (eol < 0) return;
    const line = buf.subarray(0, eol).toString();
    if (line.startsWith('MSG ')) {
      const parts = line.split(' ');
      const size = Number(parts[parts.length - 1]);
      if (buf.length < eol + 2 + size + 2) return; // wait for the whole payload
      const payload = buf.subarray(eol + 2, eol + 2 + size).toString();
      buf = buf.subarray(eol + 2 + size + 2);
      onMessage(parts[1], payload);
      continue;
    }
    buf = buf.subarray(eol + 2);
    if (line === 'PING') send('PONG\r\n');
    else if (line.startsWith('-ERR')) { console.error(`nats-cleanup: ${line}`); finish(1); }
  }
});

sock.on('error', (err) => {
  console.error(`nats-cleanup: ${err.message}`);
  process.exit(1);
});
