import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Seconds to receive a request's headers. */
  headerTimeout: number;
  /** Seconds without a byte either way while a request is received or its answer waits on the client. */
  idleTimeout: number;
  /** Seconds to receive a whole request, headers and body; 0 for no limit. */
  requestTimeout: number;
  /** Connections open at once from one address (an IPv6 /64) before any request on them authenticated; 0 for no limit. */
  maxAnonymousPerAddress: number;
}

const CLOSE_GRACE_MS = 500;

interface State {
  address: string;
  /** Counted against its address: no request on it has authenticated yet. */
  counted: boolean;
  authenticated: boolean;
  req?: IncomingMessage;
  res?: ServerResponse;
}

/**
 * Keeps slow and idle clients from holding the server's connections: timeouts for headers,
 * stalls and whole requests, and a cap per address on connections that have not authenticated.
 * A connection that authenticated keeps it for its life and is never capped; an upload on it
 * may take as long as it keeps sending.
 */
export class Connections {
  private readonly states = new WeakMap<Socket, State>();
  private readonly anonymous = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Options for `http.createServer`: Node checks its header and request timeouts this often. */
  serverOptions(): ServerOptions {
    return {
      headersTimeout: this.limits.headerTimeout * 1000,
      requestTimeout: this.limits.requestTimeout * 1000,
      connectionsCheckingInterval: Math.min(1000, this.limits.headerTimeout * 250),
    };
  }

  attach(server: Server): void {
    // Also the timeout of a connection that has not sent anything yet.
    server.setTimeout(this.limits.idleTimeout * 1000);
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('timeout', (socket: Socket) => this.timedOut(socket));
  }

  /** Called for each request before it is answered. */
  request(req: IncomingMessage, res: ServerResponse): void {
    const state = this.states.get(req.socket);
    if (!state) return;
    state.req = req;
    state.res = res;
    res.once('finish', () => {
      if (state.res === res) state.req = state.res = undefined;
      // The answer went out before the body was read (a refused upload): the rest is not read.
      // A short grace lets the answer reach a client still sending before the connection goes.
      if (!req.complete && !state.authenticated) {
        req.socket.end();
        setTimeout(() => req.socket.destroy(), CLOSE_GRACE_MS).unref();
      }
    });
  }

  /** A request on `socket` presented a valid credential. */
  authenticated(socket: Socket): void {
    const state = this.states.get(socket);
    if (!state || state.authenticated) return;
    state.authenticated = true;
    this.release(state);
  }

  private admit(socket: Socket): void {
    const address = addressKey(socket.remoteAddress);
    const open = this.anonymous.get(address) ?? 0;
    const max = this.limits.maxAnonymousPerAddress;
    if (max > 0 && open >= max) return void socket.destroy();
    this.anonymous.set(address, open + 1);
    const state: State = { address, counted: true, authenticated: false };
    this.states.set(socket, state);
    socket.once('close', () => this.release(state));
  }

  private release(state: State): void {
    if (!state.counted) return;
    state.counted = false;
    const open = (this.anonymous.get(state.address) ?? 1) - 1;
    if (open > 0) this.anonymous.set(state.address, open);
    else this.anonymous.delete(state.address);
  }

  /**
   * No byte either way for the idle timeout. Closed when nothing is under way, when the request
   * stalled, or when the answer waits on a client that stopped reading; kept while the server
   * itself is still working on the answer (a large publish).
   */
  private timedOut(socket: Socket): void {
    const state = this.states.get(socket);
    const { req, res } = state ?? {};
    if (!req || !res || !req.complete || (res.headersSent && socket.writableLength > 0)) return void socket.destroy();
    socket.setTimeout(this.limits.idleTimeout * 1000);
  }
}

/** The address a cap counts by: IPv4 as is, IPv6 by its /64 (one host may hold a whole /64). */
export function addressKey(address = 'unknown'): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
