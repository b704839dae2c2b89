/**
 * Client transports of protocol v1: a {@linkcode Link} carries whole frames
 * to a host and back, over a WebSocket (`ws://`, `wss://`) or over the
 * stdin/stdout of a host process the client spawns (a "bridge", the natural
 * way to wrap a vendor library on a lab machine).
 *
 * @module
 */

import { FrameReader, ProtocolError } from "./frame.ts";
import { type ClientWebSocket, connectWebSocket } from "./websocket_client.ts";

/**
 * The connection could not be made, or it was lost.
 *
 * @example
 * ```ts
 * import { openBackend } from "../open_backend.ts";
 * import { ConnectionError } from "./link.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const url = `ws://127.0.0.1:${listener.addr.port}`;
 * listener.close(); // nobody listens there any more
 * await assert.rejects(
 *   () => openBackend({ backend: "remote", url, token: "s3cret", reconnectSeconds: 0 }),
 *   (e) => e instanceof ConnectionError && e.message.includes(url),
 * );
 * ```
 */
export class ConnectionError extends Error {
  /** The error's name. */
  override name = "ConnectionError";
}

/** A connection to a host that carries whole frames. */
export interface Link {
  /** Where it goes, for messages: the URL or the bridge command. */
  readonly peer: string;
  /** Sends one whole frame (length prefix included); throws a {@linkcode ConnectionError} once closed. */
  send(frame: Uint8Array): void;
  /** Resolves with the reason once the link is down (closed by either side or broken). */
  readonly closed: Promise<string>;
  /** Closes the link and resolves once it is down. */
  close(): Promise<void>;
}

/** Makes a new link whose received frames (bytes after the length prefix) go to `onFrame`. */
export type Connector = (onFrame: (frame: Uint8Array) => void) => Promise<Link>;

/**
 * Splits a command line into words the way a POSIX shell does for plain
 * words, single and double quotes and backslash escapes (no variables, no
 * globbing).
 *
 * @example
 * ```ts
 * import { splitCommand } from "./link.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(splitCommand(`python3 "my host.py" --chip 'hx 1' a\\ b`),
 *   ["python3", "my host.py", "--chip", "hx 1", "a b"]);
 * assert.throws(() => splitCommand(`python3 "open`), RangeError);
 * ```
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) {
        word += text[++i];
      } else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new RangeError(`Unbalanced ${quote} in the command ${text}`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Connects over WebSocket: each frame is one binary message (sent with
 * `TCP_NODELAY`, see `websocket_client.ts`).
 *
 * @example
 * ```ts ignore
 * const link = await webSocketConnector("ws://127.0.0.1:7878")((frame) => console.log(frame.length));
 * ```
 */
export function webSocketConnector(url: string, connectSeconds = 10): Connector {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`${url} is not a URL; expected ws://host:port or wss://host:port`);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(
      `${url} is not a WebSocket URL; expected ws://host:port or wss://host:port`,
    );
  }
  return async (onFrame) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let socket: ClientWebSocket;
    try {
      socket = await Promise.race([
        connectWebSocket(url),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${connectSeconds} s`)),
            connectSeconds * 1000,
          );
        }),
      ]);
    } catch (e) {
      throw new ConnectionError(`Cannot reach ${url}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    let open = true;
    let down: (reason: string) => void = () => {};
    const closed = new Promise<string>((r) => (down = r));
    void (async () => {
      for (;;) {
        const message = await socket.receive();
        if (!message) break;
        const n = message.length >= 4
          ? new DataView(message.buffer, message.byteOffset, 4).getUint32(0, true)
          : -1;
        if (n !== message.length - 4) {
          open = false;
          down("the host sent a message whose length prefix does not match");
          await socket.close();
          return;
        }
        onFrame(message.subarray(4));
      }
      open = false;
      down("closed by the host");
    })();
    return {
      peer: url,
      send(frame) {
        if (!open) throw new ConnectionError(`The connection to ${url} is closed`);
        socket.send(frame).catch(() => {});
      },
      closed,
      async close() {
        if (open) {
          open = false;
          await socket.close();
          down("closed by the client");
        }
        await closed;
      },
    };
  };
}

/**
 * Spawns a host process and speaks to it over its stdin and stdout; its
 * stderr passes through to this process's stderr. The process is the
 * session: closing the link closes its stdin and waits for it to exit
 * (killing it after `exitSeconds`).
 *
 * @example
 * ```ts ignore
 * const connect = stdioConnector(["python3", "examples/hardware_host/host.py"]);
 * const link = await connect((frame) => console.log(frame.length));
 * await link.close();
 * ```
 */
export function stdioConnector(command: readonly string[], exitSeconds = 5): Connector {
  if (command.length === 0) throw new RangeError("The bridge command is empty");
  const peer = `bridge "${command.join(" ")}"`;
  return (onFrame) => {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command[0]!, {
        args: command.slice(1),
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
    } catch (e) {
      return Promise.reject(
        new ConnectionError(`Cannot start the ${peer}: ${(e as Error).message}`),
      );
    }
    const writer = child.stdin.getWriter();
    const frames = new FrameReader();
    let open = true;
    let down: (reason: string) => void = () => {};
    const closed = new Promise<string>((r) => (down = r));
    const reading = (async () => {
      try {
        for await (const chunk of child.stdout) {
          for (const item of frames.push(chunk)) {
            if (item instanceof ProtocolError) {
              down(`the host sent a broken stream: ${item.message}`);
              try {
                child.kill();
              } catch { /* gone already */ }
              return;
            }
            onFrame(item);
          }
        }
      } catch { /* the pipe broke */ }
    })();
    void Promise.all([reading, child.status]).then(([, status]) => {
      open = false;
      down(
        status.success
          ? "the host process exited"
          : `the host process exited with ${status.signal ?? `code ${status.code}`}`,
      );
    });
    let writes: Promise<void> = Promise.resolve();
    return Promise.resolve({
      peer,
      send(frame) {
        if (!open) throw new ConnectionError(`The ${peer} has exited`);
        writes = writes.then(() => writer.write(frame)).catch(() => {});
      },
      closed,
      async close() {
        await writes;
        await writer.close().catch(() => {});
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone already */ }
        }, exitSeconds * 1000);
        await child.status;
        clearTimeout(timer);
        await closed;
      },
    });
  };
}
