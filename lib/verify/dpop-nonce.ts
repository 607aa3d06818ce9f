/**
 * DPoP server nonces at a protected resource (RFC 9449 §9), kept without state, as MCP's DPoP
 * extension suggests for servers that cannot share a replay record.
 *
 * Time is cut into periods of `dpopNonceSeconds`. The nonce of period `k` is
 * `base64url(HMAC-SHA256(secret, resource + "\n" + k))`: 43 characters of RFC 9449's `NQCHAR`,
 * that nobody without the secret can make for a period to come. A proof is accepted with the
 * nonce of the current period, of the one before (a nonce handed out at the end of a period still
 * works through the next: it lives one to two periods) or of the one after (an instance whose
 * clock is a little ahead handed it out). Instances given the same secret and `resource` accept
 * each other's nonces; a guard without a configured secret makes one of its own at start.
 *
 * Judging a nonce is comparing it with three strings, made again once per period.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** How a proof's `nonce` claim stands: the current one, one still accepted (hand out the current one), or none accepted. */
export type NonceVerdict = 'current' | 'accepted' | 'refused';

/** The nonces of one guard. */
export class DpopNonces {
  readonly #secret: Buffer;
  readonly #periodMs: number;
  readonly #resource: string;
  readonly #clock: () => number;
  /** The period the three nonces below are of. */
  #period = Number.NaN;
  #current = '';
  #previous = '';
  #next = '';

  /**
   * @param secret shared by the instances that accept each other's nonces; `undefined`: 32 random bytes.
   * @param periodSeconds how often a new nonce is handed out.
   */
  constructor(secret: string | undefined, periodSeconds: number, resource: string, clock: () => number) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
    this.#periodMs = periodSeconds * 1000;
    this.#resource = resource;
    this.#clock = clock;
  }

  #nonceOf(period: number): string {
    return createHmac('sha256', this.#secret).update(`${this.#resource}\n${period}`).digest('base64url');
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
