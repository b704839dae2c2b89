/**
 * Transports of a {@linkcode ChipHost}: WebSocket (one binary message per
 * frame; a bearer token is always required, loopback included) and stdio
 * (frames as a byte stream over stdin/stdout, for a host process spawned by
 * its client: the pipe belongs to that client, so no token is needed).
 *
 * @module
 */

import { type ChipHost, HostSession } from "./host.ts";
import { FrameReader, ProtocolError } from "./frame.ts";

/** Where and how {@linkcode serveWebSocket} listens. */
export interface ServeWebSocketOptions {
  /** Interface to bind (default `127.0.0.1`). */
  readonly hostname?: string;
  /** TCP port (default 7878; 0 picks a free one). */
  readonly port?: number;
  /** Stops the server when aborted. */
  readonly signal?: AbortSignal;
}

/** A running WebSocket server. */
export interface WebSocketServer {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr;
  /** `ws://host:port` of the server. */
  readonly url: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes every session and resolves when done. */
  shutdown(): Promise<void>;
}

/**
 * Serves a host's chips over WebSocket. Throws when the host has no token:
 * every WebSocket session must authenticate.
 *
 * @example A loopback server of one CPU twin
 * ```ts
 * import { ChipHost } from "./host.ts";
 * import { serveWebSocket } from "./server.ts";
 * import { CpuBackend } from "../cpu/cpu_backend.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * const host = new ChipHost({
 *   chips: [{ id: "sim-1", seed: 1, key: 1 }], token: "s3cret", log: () => {},
 *   open: () => Promise.resolve(new CpuBackend([1], DEFAULT_TWIN_CONFIG)),
 *   description: "CPU executor", twin: DEFAULT_TWIN_CONFIG,
 * });
 * const server = serveWebSocket(host, { port: 0 });
 * assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
 * await server.shutdown();
 * ```
 */
export function serveWebSocket(
  host: ChipHost,
  options: ServeWebSocketOptions = {},
): WebSocketServer {
  if (!host.requiresToken) {
    throw new Error(
      "A WebSocket host needs a token (--token-file or LIFCAL_TOKEN), loopback included",
    );
  }
  const sessions = new Set<HostSession>();
  const max = host.limits.max_frame_bytes;
  const server = Deno.serve(
    {
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 7878,
      ...(options.signal ? { signal: options.signal } : {}),
      onListen: () => {},
    },
    (req, info) => {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("lifcal protocol v1: connect with a WebSocket\n", {
          status: 426,
          headers: { upgrade: "websocket" },
        });
      }
      // The peer's address must be read before the upgrade consumes the request.
      const remote = info.remoteAddr as Deno.NetAddr;
      const peer = `${remote.hostname}:${remote.port}`;
      const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 120 });
      socket.binaryType = "arraybuffer";
      let session: HostSession | undefined;
      socket.onopen = () => {
        session = host.session(peer, {
          send: (frame) => {
            if (socket.readyState === WebSocket.OPEN) socket.send(frame);
          },
          close: () => {
            if (socket.readyState === WebSocket.OPEN) socket.close(1000);
          },
        });
        sessions.add(session);
      };
      socket.onmessage = (ev) => {
        if (!session || session.ended) return;
        if (typeof ev.data === "string") {
          session.fail(new ProtocolError("malformed", "Frames are binary messages, not text"));
          return;
        }
        const bytes = new Uint8Array(ev.data as ArrayBuffer);
        if (bytes.length < 4) {
          session.fail(new ProtocolError("malformed", `A message of ${bytes.length} bytes`));
          return;
        }
        const n = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
        if (n > max) {
          session.fail(
            new ProtocolError("frame-too-large", `Frame of ${n} bytes exceeds the limit of ${max}`),
            true,
          );
        } else if (n !== bytes.length - 4) {
          session.fail(
            new ProtocolError(
              "malformed",
              `Length prefix says ${n} bytes, the message carries ${bytes.length - 4}`,
            ),
          );
        } else {
          void session.receive(bytes.subarray(4));
        }
      };
      socket.onclose = () => {
        if (session) {
          sessions.delete(session);
          void session.end("connection closed");
        }
      };
      socket.onerror = () => {};
      return response;
    },
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    addr,
    url: `ws://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`,
    finished: server.finished,
    async shutdown() {
      await Promise.all([...sessions].map((s) => s.end("server shutting down")));
      await server.shutdown();
    },
  };
}

/** Streams of {@linkcode serveStdio} (default: the process's stdin and stdout). */
export interface ServeStdioOptions {
  /** Where frames arrive. */
  readonly input?: ReadableStream<Uint8Array>;
  /** Where answers go; nothing else may write to it. */
  readonly output?: WritableStream<Uint8Array>;
  /** How the session names its peer in the log (default `stdio`). */
  readonly peer?: string;
}

/**
 * Serves a host's chips to one client over a byte stream (stdin/stdout by
 * default) and resolves when the session ends: the client sent `close`, the
 * input ended, the stream broke (an oversized length prefix), or a partial
 * frame waited longer than `idle_timeout_s` for the rest.
 *
 * @example
 * ```ts ignore
 * await serveStdio(host); // in a process spawned by `lifcal … --bridge "…"`
 * ```
 */
export async function serveStdio(host: ChipHost, options: ServeStdioOptions = {}): Promise<void> {
  const input = options.input ?? Deno.stdin.readable;
  const writer = (options.output ?? Deno.stdout.writable).getWriter();
  const reader = input.getReader();
  const frames = new FrameReader(host.limits.max_frame_bytes);
  let writes: Promise<void> = Promise.resolve();
  let closed = false;
  let finishing: Promise<void> | undefined;
  // Every caller waits for the same close: answers written, then the output closed.
  const finish = () =>
    finishing ??= (async () => {
      closed = true;
      await reader.cancel().catch(() => {});
      await writes.catch(() => {});
      await writer.close().catch(() => {});
    })();
  const session = host.session(options.peer ?? "stdio", {
    send: (frame) => {
      if (!closed) writes = writes.then(() => writer.write(frame)).catch(() => {});
    },
    close: () => void finish(),
  });
  let idle: ReturnType<typeof setTimeout> | undefined;
  const idleMs = host.limits.idle_timeout_s * 1000;
  try {
    while (!session.ended) {
      const { value, done } = await reader.read();
      clearTimeout(idle);
      if (done) break;
      for (const item of frames.push(value)) {
        if (item instanceof ProtocolError) session.fail(item, true);
        else void session.receive(item);
      }
      if (frames.pending > 0 && !session.ended) {
        const pending = frames.pending;
        idle = setTimeout(() => {
          session.fail(
            new ProtocolError(
              "malformed",
              `Truncated frame: ${pending} bytes of a frame, then nothing for ${host.limits.idle_timeout_s} s`,
            ),
            true,
          );
        }, idleMs);
      }
    }
  } catch {
    // The input broke: end the session below.
  } finally {
    clearTimeout(idle);
  }
  await session.end(session.ended ? "ended" : "input closed");
  await finish();
}
