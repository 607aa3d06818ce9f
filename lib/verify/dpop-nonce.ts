/**
 * DPoP server nonces at a protected resource (RFC 9449 §9), kept without state, as MCP's DPoP
 * extension suggests for servers that cannot share a replay record.
 *
 * Time is cut into periods of `dpopNonceSeconds`. The nonce of period `k` is
 * `base64url(HMAC-SHA256(secret, origin + "\n" + dpopNonceSeconds + "\n" + k))`: 43 characters of
 * RFC 9449's `NQCHAR`, that nobody without the secret can make for a period to come. It is the
 * resource's origin's, not the resource's: a DPoP client keeps one nonce per origin (as
 * `examples/dpop-fetch.ts` and oauth4webapi do), and each proof's `htu` already names its
 * resource. A proof is accepted with the nonce of the current period, of the one before (a nonce
 * handed out at the end of a period still works through the next: it lives one to two periods) or
 * of the one after (an instance whose clock is a little ahead handed it out). Guards given the
 * same secret, origin and `dpopNonceSeconds` accept each other's nonces; without a configured
 * secret, the guards of one process share 32 random bytes made when the first needs them.
 *
 * Judging a nonce is comparing it with three strings, made again once per period.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** The secret of guards without `dpopNonceSecret`: one per process, made when first needed. */
let processSecret: Buffer | undefined;

/** How a proof's `nonce` claim stands: the current one, one still accepted (hand out the current one), or none accepted. */
export type NonceVerdict = 'current' | 'accepted' | 'refused';

/** The nonces of one guard. */
export class DpopNonces {
  readonly #secret: Buffer;
  readonly #periodMs: number;
  /** What every nonce's HMAC input starts with: the origin and the period length. */
  readonly #scope: string;
  readonly #clock: () => number;
  /** The period the three nonces below are of. */
  #period = Number.NaN;
  #current = '';
  #previous = '';
  #next = '';

  /**
   * @param secret shared by the instances that accept each other's nonces; `undefined`: the process's.
   * @param periodSeconds how often a new nonce is handed out.
   * @param origin the resource's origin (`resourceUrl.origin`).
   */
  constructor(secret: string | undefined, periodSeconds: number, origin: string, clock: () => number) {
    this.#secret = secret === undefined ? (processSecret ??= randomBytes(32)) : Buffer.from(secret, 'utf8');
    this.#periodMs = periodSeconds * 1000;
    this.#scope = `${origin}\n${periodSeconds}\n`;
    this.#clock = clock;
  }

  #nonceOf(period: number): string {
    return createHmac('sha256', this.#secret).update(`${this.#scope}${period}`).digest('base64url');
  }

  /** Make the nonces of the clock's period, when it changed (a clock stepped back included). */
  #roll(): void {
    const period = Math.floor(this.#clock() / this.#periodMs);
    if (period === this.#period) return;
    this.#period = period;
    this.#current = this.#nonceOf(period);
    this.#previous = this.#nonceOf(period - 1);
    this.#next = this.#nonceOf(period + 1);
  }

  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(): string {
    this.#roll();
    return this.#current;
  }

  /** A proof's `nonce` claim (any JSON value, or `undefined` when absent). */
  judge(nonce: unknown): NonceVerdict {
    this.#roll();
    if (nonce === this.#current || nonce === this.#next) return 'current';
    return nonce === this.#previous ? 'accepted' : 'refused';
  }
}
