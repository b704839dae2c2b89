/**
 * A small WebSocket client (RFC 6455, binary messages only) over a TCP
 * connection with `TCP_NODELAY`. Deno's built-in `WebSocket` client writes
 * a message's header and payload separately without it, so every request
 * above ≈1 KB waits out Nagle's algorithm against the host's delayed ACK:
 * 44 ms per `write` of one CapMem row on loopback, measured
 * (`bench/remote.ts`); this client sends each message in one write and
 * answers in ≈0.1 ms.
 *
 * @module
 */

import { createHash } from "node:crypto";

const _GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A connected client WebSocket that sends and receives binary messages. */
export interface ClientWebSocket {
  /** Sends one binary message in one write. */
  send(message: Uint8Array): Promise<void>;
  /** Resolves with each whole message; `undefined` once the connection is closed. */
  receive(): Promise<Uint8Array | undefined>;
  /** Sends a close frame and closes the connection. */
  close(): Promise<void>;
}

function _concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Encodes one masked client frame.
 *
 * @example A 3-byte binary message
 * ```ts
 * import { clientFrame } from "./websocket_client.ts";
 * import assert from "node:assert/strict";
 * const f = clientFrame(2, new Uint8Array([1, 2, 3]), new Uint8Array([0, 0, 0, 0]));
 * assert.deepEqual([...f], [0x82, 0x83, 0, 0, 0, 0, 1, 2, 3]);
 * ```
 */
export function clientFrame(
  opcode: number,
  payload: Uint8Array,
  mask: Uint8Array = crypto.getRandomValues(new Uint8Array(4)),
): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    new DataView(out.buffer).setUint16(2, n);
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  out.set(mask, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/**
 * Opens a WebSocket to `ws://` or `wss://` `url`; rejects with the reason
 * when the TCP connection, TLS or the upgrade fails. Messages above
 * `maxMessageBytes` close the connection.
 *
 * @example
 * ```ts ignore
 * const ws = await connectWebSocket("ws://127.0.0.1:7878");
 * await ws.send(new Uint8Array([1, 2, 3]));
 * ```
 */
export async function connectWebSocket(
  url: string,
  maxMessageBytes = 65 * 1024 * 1024,
): Promise<ClientWebSocket> {
  const u = new URL(url);
  const tls = u.protocol === "wss:";
  const port = u.port ? Number(u.port) : tls ? 443 : 80;
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const tcp = await Deno.connect({ hostname, port });
  tcp.setNoDelay(true);
  const conn: Deno.Conn = tls ? await Deno.startTls(tcp, { hostname }) : tcp;
  try {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const request = [
      `GET ${u.pathname || "/"}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      "",
      "",
    ].join("\r\n");
    await _writeAll(conn, new TextEncoder().encode(request));
    let buffer: Uint8Array = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const chunk = await _read(conn);
      if (!chunk) throw new Error("the host closed the connection during the upgrade");
      buffer = _concat(buffer, chunk);
      end = new TextDecoder().decode(buffer).indexOf("\r\n\r\n");
      if (buffer.length > 16384) throw new Error("the host's upgrade answer is too long");
    }
    const head = new TextDecoder().decode(buffer).slice(0, end);
    const status = head.split("\r\n")[0] ?? "";
    if (!/^HTTP\/1\.1 101\b/.test(status)) {
      throw new Error(`the host answered the upgrade with "${status}"`);
    }
    const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    const expected = createHash("sha1").update(key + _GUID).digest("base64");
    if (accept !== expected) throw new Error("the host's Sec-WebSocket-Accept is wrong");
    const rest = buffer.subarray(new TextEncoder().encode(head).length + 4);
    return _socket(conn, rest, maxMessageBytes);
  } catch (e) {
    conn.close();
    throw e;
  }
}

async function _read(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  const buf = new Uint8Array(65536);
  const n = await conn.read(buf);
  return n === null ? undefined : buf.subarray(0, n);
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function _socket(conn: Deno.Conn, initial: Uint8Array, max: number): ClientWebSocket {
  let buffer = initial;
  let closed = false;
  let writes: Promise<void> = Promise.resolve();
  const write = (bytes: Uint8Array) => {
    const w = writes.then(() => _writeAll(conn, bytes));
    writes = w.catch(() => {});
    return w;
  };
  const fragments: Uint8Array[] = [];
  let messageOpcode = 0;
  const finish = () => {
    if (!closed) {
      closed = true;
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    return undefined;
  };
  /** Ensures `n` bytes are buffered; false at the end of the stream. */
  const fill = async (n: number) => {
    while (buffer.length < n) {
      const chunk = closed ? undefined : await _read(conn).catch(() => undefined);
      if (!chunk) return false;
      buffer = buffer.length === 0 ? chunk : _concat(buffer, chunk);
    }
    return true;
  };
  return {
    send(message) {
      if (closed) return Promise.reject(new Error("The WebSocket is closed"));
      return write(clientFrame(2, message));
    },
    async receive() {
      for (;;) {
        if (!(await fill(2))) return finish();
        const fin = (buffer[0]! & 0x80) !== 0;
        const opcode = buffer[0]! & 0x0f;
        const masked = (buffer[1]! & 0x80) !== 0;
        let len = buffer[1]! & 0x7f;
        let head = 2;
        if (len === 126) {
          if (!(await fill(4))) return finish();
          len = (buffer[2]! << 8) | buffer[3]!;
          head = 4;
        } else if (len === 127) {
          if (!(await fill(10))) return finish();
          const big = new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0);
          if (big > BigInt(max)) return finish();
          len = Number(big);
          head = 10;
        }
        const total = fragments.reduce((s, f) => s + f.length, 0) + len;
        if (masked || total > max) return finish();
        if (!(await fill(head + len))) return finish();
        const payload = buffer.slice(head, head + len);
        buffer = buffer.subarray(head + len);
        if (opcode === 0x8) {
          await write(clientFrame(0x8, payload.subarray(0, 2))).catch(() => {});
          return finish();
        }
        if (opcode === 0x9) {
          await write(clientFrame(0xa, payload)).catch(() => {});
          continue;
        }
        if (opcode === 0xa) continue;
        if (fragments.length === 0) messageOpcode = opcode;
        fragments.push(payload);
        if (!fin) continue;
        const message = fragments.length === 1
          ? fragments[0]!
          : fragments.reduce((a, b) => _concat(a, b), new Uint8Array(0));
        fragments.length = 0;
        if (messageOpcode !== 0x2) continue; // text messages are not frames of the protocol
        return message;
      }
    },
    async close() {
      if (closed) return;
      await write(clientFrame(0x8, new Uint8Array([0x03, 0xe8]))).catch(() => {});
      finish();
    },
  };
}
