/**
 * The client side of protocol v1 over one {@linkcode Link}: numbered
 * requests, their answers (`result` or `error` frames), a timeout per
 * request that names it, and the handshake (auth, hello, open).
 *
 * @module
 */

import { decodeFrame, encodeFrame, PROTOCOL_VERSION, ProtocolError } from "./frame.ts";
import { ConnectionError, type Connector, type Link } from "./link.ts";
import { errorFromFrame, type HelloResult, isChipId, type RequestType } from "./messages.ts";

/**
 * A request that got no answer in time.
 *
 * @example
 * ```ts
 * import { RequestTimeoutError } from "./client.ts";
 * import assert from "node:assert/strict";
 *
 * async function calibrateOrReport(run: () => Promise<void>): Promise<string> {
 *   try {
 *     await run();
 *     return "done";
 *   } catch (e) {
 *     if (e instanceof RequestTimeoutError) return `the host is too slow: ${e.message}`;
 *     throw e;
 *   }
 * }
 *
 * const slow = () => Promise.reject(new RequestTimeoutError("Request 7 (search) got no answer within 600 s"));
 * assert.match(await calibrateOrReport(slow), /too slow: Request 7/);
 * ```
 */
export class RequestTimeoutError extends Error {
  /** The error's name. */
  override name = "RequestTimeoutError";
}

/** Options of one request. */
export interface RequestOptions {
  /** Seconds to wait for the answer. */
  readonly timeoutSeconds: number;
  /** What the request does, for the timeout's message (default: its type). */
  readonly label?: string;
  /** Id to use (a repeat of an earlier request); default: the next id. */
  readonly id?: number;
}

interface _Pending {
  readonly resolve: (body: Record<string, unknown>) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * One connection to a host: send requests, await their answers.
 *
 * @example
 * ```ts ignore
 * const conn = await Connection.connect(webSocketConnector("ws://127.0.0.1:7878"));
 * await conn.request("auth", { token }, { timeoutSeconds: 10 });
 * const hello = await conn.request("hello", { protocols: [1] }, { timeoutSeconds: 10 });
 * ```
 */
export class Connection {
  readonly #link: Link;
  readonly #pending = new Map<number, _Pending>();
  #next = 1;
  #down: string | undefined;
  #unsolicited: ProtocolError | undefined;
  /** Bytes sent and received, requests answered. */
  readonly stats = { requests: 0, bytesSent: 0, bytesReceived: 0 };

  private constructor(link: Link) {
    this.#link = link;
    void link.closed.then((reason) => {
      const why = this.#unsolicited
        ? `${reason}; the host said: ${this.#unsolicited.message}`
        : reason;
      this.#down = why;
      for (const [id, p] of this.#pending) {
        clearTimeout(p.timer);
        p.reject(
          new ConnectionError(`Lost the connection to ${link.peer} (${why}) during request ${id}`),
        );
      }
      this.#pending.clear();
    });
  }

  /** Opens a connection with a connector. */
  static async connect(connector: Connector): Promise<Connection> {
    // Frames that arrive before the connection object exists wait in a queue.
    const holder: { conn?: Connection; queue: Uint8Array[] } = { queue: [] };
    const link = await connector((frame) => {
      if (holder.conn) holder.conn.#receive(frame);
      else holder.queue.push(frame);
    });
    const conn = new Connection(link);
    holder.conn = conn;
    for (const frame of holder.queue) conn.#receive(frame);
    return conn;
  }

  /** Where the connection goes. */
  get peer(): string {
    return this.#link.peer;
  }

  /** Why the connection is down, or undefined while it is up. */
  get down(): string | undefined {
    return this.#down;
  }

  /**
   * Sends a request and resolves with its `result` body; rejects with the
   * error of an `error` frame (see `errorFromFrame`), a
   * {@linkcode RequestTimeoutError} naming the request, or a
   * {@linkcode ConnectionError} when the link goes down first.
   */
  request(
    type: RequestType,
    body: Record<string, unknown>,
    options: RequestOptions,
  ): Promise<Record<string, unknown>> {
    if (this.#down !== undefined) {
      return Promise.reject(
        new ConnectionError(`Lost the connection to ${this.#link.peer} (${this.#down})`),
      );
    }
    const id = options.id ?? this.#next++;
    const frame = encodeFrame(type, id, body);
    return new Promise((resolve, reject) => {
      const label = options.label ?? type;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new RequestTimeoutError(
            `Request ${id} (${label}) to ${this.#link.peer} got no answer within ${options.timeoutSeconds} s`,
          ),
        );
      }, options.timeoutSeconds * 1000);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        this.#link.send(frame);
        this.stats.bytesSent += frame.length;
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(e instanceof ConnectionError ? e : new ConnectionError(String(e)));
      }
    });
  }

  /** Closes the link. */
  async close(): Promise<void> {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    await this.#link.close();
  }

  #receive(bytes: Uint8Array): void {
    this.stats.bytesReceived += bytes.length + 4;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (e) {
      this.#unsolicited = e instanceof ProtocolError
        ? e
        : new ProtocolError("malformed", String(e));
      void this.#link.close();
      return;
    }
    const pending = this.#pending.get(frame.id);
    if (frame.type === "error" && (!pending || frame.body.request === null)) {
      // An error that answers no request of ours (too many sessions, a frame
      // the host could not read): keep it for the reason of the close.
      this.#unsolicited = errorFromFrame(frame.body, frame.id) as ProtocolError;
      if (!pending) return;
    }
    if (!pending) return;
    this.#pending.delete(frame.id);
    clearTimeout(pending.timer);
    this.stats.requests++;
    if (frame.type === "result") pending.resolve(frame.body);
    else if (frame.type === "error") pending.reject(errorFromFrame(frame.body, frame.id));
    else {
      pending.reject(
        new ProtocolError("malformed", `The host answered with a "${frame.type}" frame`, frame.id),
      );
    }
  }
}

/**
 * Checks a `hello` result enough to rely on it: protocol, chips with ids and
 * u32 keys, capabilities. Throws a {@linkcode ProtocolError} naming what is
 * wrong.
 *
 * @example
 * ```ts
 * import { checkHello } from "./client.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => checkHello({ protocol: 1, chips: "none" }), /chips/);
 * ```
 */
export function checkHello(body: Record<string, unknown>): HelloResult {
  const bad = (what: string) => new ProtocolError("malformed", `The host's hello ${what}`);
  if (body.protocol !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "unsupported-version",
      `The host speaks protocol ${JSON.stringify(body.protocol)}, this client ${PROTOCOL_VERSION}`,
    );
  }
  const chips = body.chips;
  if (!Array.isArray(chips)) throw bad("has no chips list");
  const ids = new Set<string>();
  for (const c of chips) {
    const chip = c as Record<string, unknown>;
    if (!isChipId(chip?.id)) {
      throw bad(
        `lists a chip whose id ${JSON.stringify(chip?.id)} is not 1-128 of A-Z a-z 0-9 . _ -`,
      );
    }
    if (ids.has(chip.id)) throw bad(`lists chip ${chip.id} twice`);
    ids.add(chip.id);
    if (
      !Number.isInteger(chip.key) || (chip.key as number) < 0 || (chip.key as number) > 0xffffffff
    ) {
      throw bad(`gives chip ${chip.id} no u32 key`);
    }
  }
  const caps = body.capabilities as Record<string, unknown> | undefined;
  if (!caps || !Array.isArray(caps.measurements)) throw bad("has no capabilities");
  return body as unknown as HelloResult;
}
