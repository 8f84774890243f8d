import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt cost parameters; `logN` is log2 of N. */
export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

const KEY_LENGTH = 32;
const PREFIX = 'scrypt';

function derive(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/**
 * Password (and PIN) hashing with scrypt from `node:crypto`, run on libuv's
 * thread pool so it never blocks the event loop. The stored form names its
 * parameters (`scrypt$ln=15,r=8,p=1$<salt>$<key>`), so raising the cost later
 * leaves old hashes verifiable.
 */
export class PasswordHasher {
  readonly params: ScryptParams;
  #dummy: Promise<string> | undefined;

  constructor(params: ScryptParams) {
    this.params = params;
  }

  async hash(secret: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await derive(secret, salt, this.params);
    const { logN, r, p } = this.params;
    return `${PREFIX}$ln=${logN},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** Constant-time comparison against a stored hash; malformed hashes never match. */
  async verify(secret: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const key = await derive(secret, parsed.salt, parsed.params);
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  }

  /**
   * Spends the same work as a real verification and returns false: used when
   * the account does not exist, so an unknown email and a wrong password take
   * the same time.
   */
  async verifyAgainstNothing(secret: string): Promise<false> {
    this.#dummy ??= this.hash('no account has this password');
    await this.verify(secret, await this.#dummy);
    return false;
  }
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const m = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([\w-]+)\$([\w-]+)$/.exec(stored);
  if (!m) return undefined;
  const params = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.logN < 10 || params.logN > 20) return undefined;
  return { params, salt: Buffer.from(m[4]!, 'base64url'), key: Buffer.from(m[5]!, 'base64url') };
}
