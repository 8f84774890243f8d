import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { pinDelaySeconds } from '../../src/domain/pin-policy.ts';
import { MAIL_PER_ADDRESS_RULE } from '../../src/features/accounts/accounts.service.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { codeIn, mailTo } from '../support/mail.ts';
import { stacks } from '../support/servers.ts';

/**
 * Sign-in tried as an attacker would (issue 9, point 6): nobody can lock
 * others out or learn who has an account. Each case asserts the answers
 * (status and body) and what was stored. Time moves with mock timers
 * (Date only: the database drivers keep their real timers), never sleeps.
 * RATE_LIMIT_AUTH_PER_MINUTE is 3 here, so the limits are reached quickly;
 * every request comes from its own address (TRUST_PROXY) unless a test
 * names one, so only the limit under test applies.
 */

type ErrorJson = { error: { code: string; message: string; details?: Record<string, unknown>; requestId: string } };

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new password';
const LIMIT = 3;

for (const stack of await stacks()) {
  describe(`sign-in abuse on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let addressCounter = 0;
    const freshAddress = () => `10.9.${Math.floor(++addressCounter / 250)}.${addressCounter % 250}`;
    let counter = 0;
    const unique = (prefix: string) => `${prefix}-${++counter}`;

    const post = (path: string, body: unknown, address = freshAddress()) =>
      t.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'x-app-id': 'alpha', 'x-forwarded-for': address } });
    const errorOf = async (res: Response) => ((await res.json()) as ErrorJson).error;
    /** The body without the request id, which differs on every answer. */
    const comparable = async (res: Response) => ({ status: res.status, error: { ...(await errorOf(res)), requestId: undefined } });
    const db = () => t.container.database.db.withSchema('app_alpha');
    const childState = (id: string) => db().selectFrom('children').select(['pin_failures', 'pin_retry_at']).where('id', '=', id).executeTakeFirstOrThrow();
    const timeTravel = (ctx: TestContext) => ctx.mock.timers.enable({ apis: ['Date'], now: Date.now() });

    const newGuardian = async () => {
      const account = await t.container.accounts.register('alpha', { email: `${unique('guardian')}@example.com`, password: PASSWORD, role: 'guardian' });
      const principal: Principal = { sub: account.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      return { account, principal };
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, env: { RATE_LIMIT_AUTH_PER_MINUTE: String(LIMIT), TRUST_PROXY: 'true' } });
      await createFixtureApp(t.container, 'alpha');
    });
    after(async () => dispose());

    describe('PIN sign-in', () => {
      /** A family: a guardian with a device key, a child with PIN 4821 and a child without a PIN. */
      const family = async () => {
        const { principal } = await newGuardian();
        const withPin = (await t.container.children.create(principal, { nickname: 'Ada', grade: 1 })).id;
        const withoutPin = (await t.container.children.create(principal, { nickname: 'Bo', grade: 1 })).id;
        await t.container.children.setPin(principal, withPin, '4821');
        const { deviceKey } = await t.container.children.createDeviceKey(principal);
        return { principal, withPin, withoutPin, deviceKey };
      };
      const pin = (childId: string, p: string, deviceKey: string) => post('/auth/pin', { childId, pin: p, deviceKey });

      it('knowing a child id is not enough: without the family device key nothing is counted and the child is never held up', async () => {
        const f = await family();
        assert.equal((await post('/auth/pin', { childId: f.withPin, pin: '0000' })).status, 400, 'the device key is required');
        const guessedKey = `dk_${'A'.repeat(43)}`;
        const answers = [];
        for (let i = 0; i < 20; i++) answers.push(await comparable(await pin(f.withPin, String(1000 + i), guessedKey)));
        assert.ok(answers.every((a) => a.status === 401 && a.error.code === 'invalid_pin'), JSON.stringify(answers[0]));
        assert.deepEqual(await childState(f.withPin), { pin_failures: 0, pin_retry_at: null }, 'nothing was counted against the child');
        // Another family's key is no better.
        const other = await family();
        for (let i = 0; i < 6; i++) assert.equal((await pin(f.withPin, '0000', other.deviceKey)).status, 401);
        assert.deepEqual(await childState(f.withPin), { pin_failures: 0, pin_retry_at: null });
        const ok = await pin(f.withPin, '4821', f.deviceKey);
        assert.equal(ok.status, 200, 'the family device still signs the child in at once');
      });

      it('answers identically whether or not the child has a PIN, with the same hashing work', async (ctx) => {
        const f = await family();
        const passwords = t.container.accounts.passwords;
        const verify = ctx.mock.method(passwords, 'verify');
        const dummy = ctx.mock.method(passwords, 'verifyAgainstNothing');
        const withPin = [];
        const withoutPin = [];
        for (let i = 0; i < 6; i++) withPin.push(await comparable(await pin(f.withPin, '0000', f.deviceKey)));
        // verifyAgainstNothing runs a real verify against a dummy hash, so verify calls are the scrypt work done.
        const scryptWithPin = verify.mock.callCount();
        for (let i = 0; i < 6; i++) withoutPin.push(await comparable(await pin(f.withoutPin, '0000', f.deviceKey)));
        const scryptWithoutPin = verify.mock.callCount() - scryptWithPin;
        assert.equal(dummy.mock.callCount(), 5, 'the child without a PIN was checked against the dummy hash');
        assert.deepEqual(withoutPin, withPin, 'same statuses and bodies');
        assert.deepEqual(
          withPin.map((a) => a.status),
          [401, 401, 401, 401, 401, 429],
        );
        assert.equal(withPin[0]!.error.code, 'invalid_pin');
        assert.equal(withPin[5]!.error.code, 'pin_retry_later');
        assert.equal(scryptWithPin, 5, 'one scrypt check per counted attempt');
        assert.equal(scryptWithoutPin, scryptWithPin, 'a missing PIN is checked against a dummy hash: same work');
        const [a, b] = [await childState(f.withPin), await childState(f.withoutPin)];
        assert.equal(a.pin_failures, 5);
        assert.equal(b.pin_failures, 5);
        assert.ok(a.pin_retry_at && b.pin_retry_at, 'both wait');
      });

      it('wrong PINs earn a growing wait, never a lock: the right PIN works once the wait is over', async (ctx) => {
        timeTravel(ctx);
        const f = await family();
        for (let i = 0; i < 5; i++) assert.equal((await pin(f.withPin, '0000', f.deviceKey)).status, 401);
        const waits: number[] = [];
        for (const expected of [30, 60, 120]) {
          const early = await pin(f.withPin, '4821', f.deviceKey);
          assert.equal(early.status, 429);
          assert.equal((await errorOf(early)).code, 'pin_retry_later');
          waits.push(Number(early.headers.get('retry-after')));
          ctx.mock.timers.tick((expected - 1) * 1000);
          assert.equal((await pin(f.withPin, '4821', f.deviceKey)).status, 429, 'still waiting a second before the end');
          ctx.mock.timers.tick(1000);
          // The wait is over: one more wrong PIN is checked (401) and earns the next, doubled wait.
          assert.equal((await pin(f.withPin, '0000', f.deviceKey)).status, 401);
        }
        assert.deepEqual(waits, [30, 60, 120]);
        assert.deepEqual(waits, [5, 6, 7].map(pinDelaySeconds), 'the database applies the rule of domain/pin-policy.ts');
        assert.equal((await childState(f.withPin)).pin_failures, 8);
        ctx.mock.timers.tick(240_000);
        const ok = await pin(f.withPin, '4821', f.deviceKey);
        assert.equal(ok.status, 200, 'never locked for good');
        assert.deepEqual(await childState(f.withPin), { pin_failures: 0, pin_retry_at: null }, 'a correct PIN clears the count');
      });

      it('the guardian’s unlock clears every counter: the right PIN works at once, and the free attempts are back', async () => {
        const f = await family();
        for (let i = 0; i < 5; i++) await pin(f.withPin, '0000', f.deviceKey);
        assert.equal((await pin(f.withPin, '4821', f.deviceKey)).status, 429);
        assert.equal((await t.container.children.get(f.principal, f.withPin)).pinLocked, true);
        await t.container.children.unlockPin(f.principal, f.withPin);
        assert.deepEqual(await childState(f.withPin), { pin_failures: 0, pin_retry_at: null });
        assert.equal((await t.container.children.get(f.principal, f.withPin)).pinLocked, false);
        assert.equal((await pin(f.withPin, '4821', f.deviceKey)).status, 200, 'no limiter counter left over after the unlock');
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await pin(f.withPin, '0000', f.deviceKey)).status);
        assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
      });

      it('a replaced or revoked device key stops working at once', async () => {
        const f = await family();
        const { deviceKey: second } = await t.container.children.createDeviceKey(f.principal);
        assert.equal((await pin(f.withPin, '4821', f.deviceKey)).status, 401, 'the old key was replaced');
        assert.equal((await pin(f.withPin, '4821', second)).status, 200);
        await t.container.children.revokeDeviceKey(f.principal);
        assert.equal((await pin(f.withPin, '4821', second)).status, 401);
        const stored = await db().selectFrom('family_device_keys').selectAll().where('guardian_id', '=', f.principal.sub).execute();
        assert.deepEqual(stored, []);
      });

      it('a device key needs a real guardian account (a token for a made-up subject gets 403, not 500)', async () => {
        const token = await t.token('alpha', 'guardian', { sub: 'no-such-account' });
        const res = await t.request('/api/family/device-key', { method: 'POST', token });
        assert.equal(res.status, 403);
        assert.equal((await errorOf(res)).code, 'account_required');
        assert.deepEqual(await db().selectFrom('family_device_keys').selectAll().where('guardian_id', '=', 'no-such-account').execute(), []);
      });

      it('stores only a digest of the device key', async () => {
        const f = await family();
        const row = await db().selectFrom('family_device_keys').selectAll().where('guardian_id', '=', f.principal.sub).executeTakeFirstOrThrow();
        assert.notEqual(row.key_hash, f.deviceKey);
        assert.ok(!row.key_hash.includes(f.deviceKey.slice(3, 20)));
      });
    });

    describe('password sign-in', () => {
      /**
       * One sign-in from `address`. With `ctx`, a minute passes first, so the
       * per-address limit on all of /auth (3 a minute here) is not what answers:
       * the sign-in limits under test are counted over 15 minutes.
       */
      const login = (email: string, password: string, address: string, ctx?: TestContext, deviceToken?: string) => {
        ctx?.mock.timers.tick(61_000);
        return post('/auth/login', deviceToken === undefined ? { email, password } : { email, password, deviceToken }, address);
      };
      type SignedIn = { accessToken: string; refreshToken: string; expiresIn: number; tokenType: string; deviceToken: string };
      /** A successful sign-in's body (asserting the 200). */
      const signedIn = async (res: Response) => {
        assert.equal(res.status, 200, await res.clone().text());
        return (await res.json()) as SignedIn;
      };
      const devices = (accountId: string) =>
        db().selectFrom('trusted_devices').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('digest').execute();
      /** Failed sign-ins for `email` from LIMIT × 10 + 1 fresh addresses: the per-account ceiling, reached. */
      const guessFromEverywhere = async (email: string) => {
        const statuses = [];
        for (let i = 0; i < LIMIT * 10 + 1; i++) statuses.push((await login(email, 'not the password', freshAddress())).status);
        assert.deepEqual(statuses, [...Array(LIMIT * 10).fill(401), 429], 'the guessers reached the per-account ceiling');
      };
      const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url');
      const madeUpDeviceToken = () => `dv_${randomBytes(32).toString('base64url')}`;

      it('wrong passwords from one address do not lock the owner out elsewhere', async (ctx) => {
        timeTravel(ctx);
        const { account } = await newGuardian();
        const attacker = freshAddress();
        const statuses = [];
        for (let i = 0; i < 10; i++) statuses.push((await login(account.email, 'not the password', attacker, ctx)).status);
        assert.deepEqual(statuses, [401, 401, 401, ...Array(7).fill(429)], `${LIMIT} failures per (account, address), then 429`);
        const limited = await login(account.email, PASSWORD, attacker, ctx);
        assert.equal(limited.status, 429, 'that address waits, even with the right password');
        assert.equal((await errorOf(limited)).code, 'rate_limited');
        const owner = await login(account.email, PASSWORD, freshAddress());
        assert.equal(owner.status, 200, 'the owner signs in from another address');
        // The attacker's address gets its attempts back once its window (15 minutes from its first failure) has passed.
        ctx.mock.timers.tick(15 * 60_000);
        assert.equal((await login(account.email, 'not the password', attacker)).status, 401);
      });

      it('counts failures, not attempts: a success resets the count', async (ctx) => {
        timeTravel(ctx);
        const { account } = await newGuardian();
        const address = freshAddress();
        const statuses = [];
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < LIMIT - 1; i++) statuses.push((await login(account.email, 'not the password', address, ctx)).status);
          statuses.push((await login(account.email, PASSWORD, address, ctx)).status);
        }
        assert.deepEqual(statuses, [401, 401, 200, 401, 401, 200, 401, 401, 200]);
        const many = [];
        for (let i = 0; i < 6; i++) many.push((await login(account.email, PASSWORD, address, ctx)).status);
        assert.deepEqual(many, [200, 200, 200, 200, 200, 200], 'signing in often is never limited');
      });

      it('slows guessing from many addresses with a per-account ceiling ten times higher, which the owner can clear with a reset', async () => {
        const { account } = await newGuardian();
        const statuses = [];
        for (let i = 0; i < LIMIT * 10 + 2; i++) statuses.push((await login(account.email, 'not the password', freshAddress())).status);
        assert.deepEqual(statuses, [...Array(LIMIT * 10).fill(401), 429, 429]);
        const blocked = await login(account.email, PASSWORD, freshAddress());
        assert.equal(blocked.status, 429, 'past the ceiling the account waits for its window');
        // The owner proves control of the address: the reset clears the account's count.
        assert.equal((await post('/auth/password/forgot', { email: account.email })).status, 202);
        const code = codeIn(mailTo(t, account.email).at(-1));
        assert.equal((await post('/auth/password/reset', { token: code, password: NEW_PASSWORD })).status, 204);
        assert.equal((await login(account.email, NEW_PASSWORD, freshAddress())).status, 200);
      });

      describe('trusted devices', () => {
        it('the owner signs in on a device used before while guessers from many addresses hold the account at its ceiling', async (ctx) => {
          timeTravel(ctx);
          const { account } = await newGuardian();
          const home = freshAddress();
          const first = await signedIn(await login(account.email, PASSWORD, home));
          assert.deepEqual(Object.keys(first).sort(), ['accessToken', 'deviceToken', 'expiresIn', 'refreshToken', 'tokenType']);
          assert.match(first.deviceToken, /^dv_[A-Za-z0-9_-]{43}$/);

          await guessFromEverywhere(account.email);
          const elsewhere = await login(account.email, PASSWORD, freshAddress());
          assert.equal(elsewhere.status, 429, 'from a new address without the device token the owner waits like anyone');
          assert.equal((await errorOf(elsewhere)).code, 'rate_limited');

          ctx.mock.timers.tick(60_000);
          const onDevice = await signedIn(await login(account.email, PASSWORD, freshAddress(), undefined, first.deviceToken));
          assert.equal(onDevice.deviceToken, first.deviceToken, 'the device keeps its token');
          const [row, ...more] = await devices(account.id);
          assert.deepEqual(more, [], 'no second device was trusted');
          assert.equal(row!.last_used_at.getTime(), row!.created_at.getTime() + 60_000, 'the sign-in on the device is recorded');

          const still = await login(account.email, PASSWORD, freshAddress());
          assert.equal(still.status, 429, 'the device’s success does not clear the guessers’ count');
        });

        it('failures on a trusted device count against that device only, which then waits like any client', async (ctx) => {
          timeTravel(ctx);
          const { account } = await newGuardian();
          const { deviceToken } = await signedIn(await login(account.email, PASSWORD, freshAddress()));
          const home = freshAddress();
          const statuses = [];
          for (let i = 0; i < LIMIT; i++) statuses.push((await login(account.email, 'not the password', home, ctx, deviceToken)).status);
          assert.deepEqual(statuses, Array(LIMIT).fill(401));
          const waits = await login(account.email, PASSWORD, home, ctx, deviceToken);
          assert.equal(waits.status, 429, 'past its limit the device waits, even with the right password');
          const error = await errorOf(waits);
          assert.equal(error.code, 'rate_limited');
          assert.deepEqual({ ...error.details, retryAfterSeconds: undefined }, { limit: LIMIT, windowSeconds: 15 * 60, retryAfterSeconds: undefined }, 'the device’s sign-in limit, not the per-minute one');
          // The device's failures were not added to the account's count (nor
          // any client's): the other addresses get the full ceiling, not one less.
          await guessFromEverywhere(account.email);
        });

        it('a device token of another account, or a made-up one, gets the same answers as none, and reveals no account', async (ctx) => {
          timeTravel(ctx);
          const { account } = await newGuardian();
          const { account: other } = await newGuardian();
          const othersToken = (await signedIn(await login(other.email, PASSWORD, freshAddress()))).deviceToken;
          const nobody = `${unique('nobody')}@example.com`;
          // Before the ceiling: the same answers and limits per (account, address) for a known and an unknown email.
          const sequence = async (email: string, deviceToken?: string) => {
            const address = freshAddress();
            const answers = [];
            for (let i = 0; i < LIMIT + 1; i++) answers.push(await comparable(await login(email, 'not the password', address, ctx, deviceToken)));
            return answers;
          };
          const none = await sequence(account.email);
          assert.deepEqual(none.map((a) => a.status), [...Array(LIMIT).fill(401), 429]);
          assert.equal(none[0]!.error.code, 'invalid_credentials');
          assert.deepEqual(await sequence(account.email, othersToken), none, 'another account’s token');
          assert.deepEqual(await sequence(account.email, madeUpDeviceToken()), none, 'a made-up token');
          assert.deepEqual(await sequence(nobody, othersToken), none, 'an unknown email with a real token');
          assert.deepEqual(await sequence(nobody, madeUpDeviceToken()), none, 'an unknown email with a made-up token');
          assert.equal((await login(account.email, PASSWORD, freshAddress(), ctx, 'not a token')).status, 400, 'a value that is not token-shaped is refused');

          // Past the ceiling: neither exempts the owner.
          await guessFromEverywhere(account.email);
          const withNone = await comparable(await login(account.email, PASSWORD, freshAddress()));
          assert.equal(withNone.status, 429);
          assert.deepEqual(await comparable(await login(account.email, PASSWORD, freshAddress(), undefined, othersToken)), withNone);
          assert.deepEqual(await comparable(await login(account.email, PASSWORD, freshAddress(), undefined, madeUpDeviceToken())), withNone);
          assert.equal((await devices(account.id)).length, 0, 'no device of the account was trusted meanwhile');
          assert.equal((await devices(other.id)).length, 1, 'the other account’s device is untouched');
        });

        it('a password reset revokes every trusted device of the account', async (ctx) => {
          timeTravel(ctx);
          const { account } = await newGuardian();
          const phone = (await signedIn(await login(account.email, PASSWORD, freshAddress()))).deviceToken;
          const tablet = (await signedIn(await login(account.email, PASSWORD, freshAddress()))).deviceToken;
          assert.notEqual(phone, tablet);
          assert.deepEqual((await devices(account.id)).map((d) => d.digest).sort(), [sha256(phone), sha256(tablet)].sort());

          assert.equal((await post('/auth/password/forgot', { email: account.email })).status, 202);
          const code = codeIn(mailTo(t, account.email).at(-1));
          assert.equal((await post('/auth/password/reset', { token: code, password: NEW_PASSWORD })).status, 204);
          assert.deepEqual(await devices(account.id), [], 'the stored devices are gone');

          // The phone signs in with the new password: it is trusted anew, with a new token.
          const again = await signedIn(await login(account.email, NEW_PASSWORD, freshAddress(), undefined, phone));
          assert.notEqual(again.deviceToken, phone);
          assert.deepEqual((await devices(account.id)).map((d) => d.digest), [sha256(again.deviceToken)]);

          await guessFromEverywhere(account.email);
          const revoked = await login(account.email, NEW_PASSWORD, freshAddress(), undefined, tablet);
          assert.equal(revoked.status, 429, 'a revoked token no longer exempts the device from the ceiling');
          assert.equal((await errorOf(revoked)).code, 'rate_limited');
          assert.equal((await login(account.email, NEW_PASSWORD, freshAddress(), undefined, again.deviceToken)).status, 200);
        });

        it('stores only a digest, for 90 days from the sign-in that trusted the device, at most 20 devices per account, and goes with the account', async (ctx) => {
          timeTravel(ctx);
          const { account } = await newGuardian();
          const { deviceToken } = await signedIn(await login(account.email, PASSWORD, freshAddress()));
          const [row] = await devices(account.id);
          assert.equal(row!.digest, sha256(deviceToken), 'the SHA-256 digest of the token');
          assert.ok(!JSON.stringify(row).includes(deviceToken.slice(3, 20)), 'no part of the token is stored');
          assert.equal(row!.expires_at.getTime() - row!.created_at.getTime(), 90 * 86_400_000);
          assert.equal(row!.last_used_at.getTime(), row!.created_at.getTime());

          ctx.mock.timers.tick(90 * 86_400_000 - 1000);
          assert.equal((await signedIn(await login(account.email, PASSWORD, freshAddress(), undefined, deviceToken))).deviceToken, deviceToken);
          assert.equal((await devices(account.id))[0]!.expires_at.getTime(), row!.expires_at.getTime(), 'use does not extend the lifetime');
          ctx.mock.timers.tick(1000);
          const renewed = await signedIn(await login(account.email, PASSWORD, freshAddress(), undefined, deviceToken));
          assert.notEqual(renewed.deviceToken, deviceToken, 'after 90 days the device gets a new token');
          assert.deepEqual((await devices(account.id)).map((d) => d.digest), [sha256(renewed.deviceToken)], 'the expired one is deleted');

          const tokens = [renewed.deviceToken];
          for (let i = 0; i < 21; i++) {
            ctx.mock.timers.tick(1000);
            tokens.push((await t.container.accounts.login('alpha', { email: account.email, password: PASSWORD })).deviceToken);
          }
          const kept = await devices(account.id);
          assert.deepEqual(kept.map((d) => d.digest), tokens.slice(-20).map(sha256), 'the 20 most recently used are kept');
          assert.equal(await t.container.accounts.trustedDevice('alpha', account.email, tokens[0]), undefined, 'the oldest is no longer trusted');

          await db().deleteFrom('accounts').where('id', '=', account.id).execute();
          assert.deepEqual(await devices(account.id), [], 'deleting the account deletes its devices');
        });
      });

      it('answers an unknown email exactly like a wrong password, limits included', async (ctx) => {
        timeTravel(ctx);
        const { account } = await newGuardian();
        const nobody = `${unique('nobody')}@example.com`;
        const address = freshAddress();
        const known = [];
        const unknown = [];
        for (let i = 0; i < LIMIT + 1; i++) known.push(await comparable(await login(account.email, 'not the password', address, ctx)));
        for (let i = 0; i < LIMIT + 1; i++) unknown.push(await comparable(await login(nobody, 'not the password', address, ctx)));
        assert.deepEqual(unknown, known);
        assert.equal(known[0]!.error.code, 'invalid_credentials');
        assert.equal(known[LIMIT]!.status, 429);
      });
    });

    describe('registration and password reset', () => {
      const register = (email: string, password = PASSWORD) => post('/auth/register', { email, password, role: 'guardian' });
      const accountRows = (email: string) => db().selectFrom('accounts').select(['id', 'role', 'password_hash']).where('email', '=', email.toLowerCase()).execute();

      it('register answers a new and a taken address (in any case) the same way, and tells only the owner by mail', async () => {
        const { account } = await newGuardian();
        const fresh = `${unique('fresh')}@example.com`;
        const a = await register(fresh);
        const b = await register(account.email.toUpperCase());
        assert.equal(a.status, 202);
        assert.deepEqual([...a.headers.keys()].sort(), [...b.headers.keys()].sort());
        assert.deepEqual({ status: b.status, body: await b.json() }, { status: a.status, body: await a.json() });
        assert.equal(mailTo(t, fresh).length, 1);
        assert.match(mailTo(t, fresh)[0]!.subject, /Confirm your email address/);
        assert.equal(mailTo(t, account.email).length, 1);
        assert.match(mailTo(t, account.email)[0]!.subject, /Someone tried to create an account with your address/);
        assert.deepEqual(await accountRows(fresh), [], 'no account before the address is verified');
        const [owner] = await accountRows(account.email);
        assert.ok(owner && (await t.container.accounts.passwords.verify(PASSWORD, owner.password_hash!)), 'the owner’s password is untouched');
        assert.equal((await post('/auth/login', { email: fresh, password: PASSWORD })).status, 401, 'an unverified address cannot sign in');
      });

      it('someone who registers another person’s address first cannot keep it, even when the owner follows the first mail', async () => {
        const victim = `${unique('victim')}@example.com`;
        // The attacker registers the victim's address with their own password, then the victim registers it.
        assert.equal((await register(victim, 'attacker password 1')).status, 202);
        assert.equal((await register(victim, 'the victim password')).status, 202);
        const [attackerMail, victimMail] = mailTo(t, victim);
        assert.equal(attackerMail!.subject, victimMail!.subject, 'the two mails look alike');
        // The victim follows the FIRST mail (the attacker's registration): no account, the answer of an unknown code.
        const first = await post('/auth/email/verify', { token: codeIn(attackerMail), password: 'the victim password' });
        assert.equal(first.status, 400);
        assert.equal((await errorOf(first)).code, 'invalid_email_token');
        assert.deepEqual(await accountRows(victim), [], 'no account with the attacker’s password');
        // Their own (the newest) code creates the account with their password.
        const verified = await post('/auth/email/verify', { token: codeIn(victimMail), password: 'the victim password' });
        assert.equal(verified.status, 201);
        const [stored] = await accountRows(victim);
        assert.ok(stored && (await t.container.accounts.passwords.verify('the victim password', stored.password_hash!)), 'the account has the victim’s password');
        assert.equal((await post('/auth/login', { email: victim, password: 'the victim password' })).status, 200);
        assert.equal((await post('/auth/login', { email: victim, password: 'attacker password 1' })).status, 401);
        const pending = await db().selectFrom('email_tokens').select('used_at').where('email', '=', victim).where('purpose', '=', 'verify_email').execute();
        assert.ok(pending.every((r) => r.used_at !== null), 'no registration of the address is pending once one completed');
        const late = await post('/auth/email/verify', { token: codeIn(attackerMail), password: 'attacker password 1' });
        assert.equal(late.status, 400, 'the attacker’s registration is void');
        assert.equal((await errorOf(late)).code, 'invalid_email_token');
        assert.equal((await accountRows(victim)).length, 1);
      });

      it('a code sent with another password than the registration’s answers like an unknown code and stays usable', async () => {
        const email = `${unique('wrong')}@example.com`;
        await register(email);
        const code = codeIn(mailTo(t, email).at(-1));
        const wrong = await post('/auth/email/verify', { token: code, password: 'not the registered one' });
        const unknown = await post('/auth/email/verify', { token: randomBytes(32).toString('base64url'), password: PASSWORD });
        assert.equal(wrong.status, 400);
        assert.deepEqual([...wrong.headers.keys()].sort(), [...unknown.headers.keys()].sort());
        assert.deepEqual(await comparable(wrong), await comparable(unknown));
        assert.equal((await errorOf(await post('/auth/email/verify', { token: code, password: 'not the registered one' }))).code, 'invalid_email_token');
        assert.deepEqual(await accountRows(email), []);
        const [row] = await db().selectFrom('email_tokens').select('used_at').where('email', '=', email).execute();
        assert.equal(row?.used_at, null, 'the code is not spent');
        assert.equal((await post('/auth/email/verify', { token: code, password: PASSWORD })).status, 201, 'the registered password still completes it');
        assert.equal((await post('/auth/login', { email, password: PASSWORD })).status, 200);
      });

      it('a newer registration of an address replaces the pending one: only the newest code works', async () => {
        const email = `${unique('twice')}@example.com`;
        await register(email);
        await register(email);
        const [older, newer] = mailTo(t, email);
        const rows = await db().selectFrom('email_tokens').select('token_hash').where('email', '=', email).execute();
        assert.equal(rows.length, 1, 'one pending registration per address');
        const stale = await post('/auth/email/verify', { token: codeIn(older), password: PASSWORD });
        assert.equal(stale.status, 400, 'the older code stops working, even with the right password');
        assert.equal((await errorOf(stale)).code, 'invalid_email_token');
        assert.deepEqual(await accountRows(email), []);
        assert.equal((await post('/auth/email/verify', { token: codeIn(newer), password: PASSWORD })).status, 201);
      });

      it('a registration whose mail is held back (the address had its mails this hour) does not void the code already mailed', async () => {
        const email = `${unique('impatient')}@example.com`;
        for (let i = 0; i < MAIL_PER_ADDRESS_RULE.points + 1; i++) assert.equal((await register(email)).status, 202);
        const mails = mailTo(t, email);
        assert.equal(mails.length, MAIL_PER_ADDRESS_RULE.points, 'the last registration sent no mail');
        assert.equal((await post('/auth/email/verify', { token: codeIn(mails.at(-1)), password: PASSWORD })).status, 201, 'the last mailed code still works');
      });

      it('verification codes are single use, expire after a day and are stored only as digests', async (ctx) => {
        timeTravel(ctx);
        const email = `${unique('late')}@example.com`;
        await register(email);
        const code = codeIn(mailTo(t, email).at(-1));
        const rows = await db().selectFrom('email_tokens').selectAll().where('email', '=', email).execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.purpose, 'verify_email');
        assert.notEqual(rows[0]!.token_hash, code);
        assert.ok(rows[0]!.password_hash?.startsWith('scrypt$'), 'the chosen password waits hashed');
        ctx.mock.timers.tick(24 * 3600_000 + 1000);
        const expired = await post('/auth/email/verify', { token: code, password: PASSWORD });
        assert.equal(expired.status, 400);
        assert.equal((await errorOf(expired)).code, 'invalid_email_token');
        assert.deepEqual(await accountRows(email), []);
        ctx.mock.timers.tick(24 * 3600_000);
        await register(email);
        const kept = await db().selectFrom('email_tokens').select('token_hash').where('email', '=', email).execute();
        assert.equal(kept.length, 1, 'the registration expired over a day ago is deleted (with its password hash)');
        const again = codeIn(mailTo(t, email).at(-1));
        assert.equal((await post('/auth/email/verify', { token: again, password: PASSWORD })).status, 201);
        assert.equal((await post('/auth/email/verify', { token: again, password: PASSWORD })).status, 400, 'single use');
      });

      it('forgot-password answers the same for known and unknown addresses; the code resets once, within 30 minutes, and signs every session out', async (ctx) => {
        timeTravel(ctx);
        const { account } = await newGuardian();
        const unknown = `${unique('unknown')}@example.com`;
        const a = await post('/auth/password/forgot', { email: account.email });
        const b = await post('/auth/password/forgot', { email: unknown });
        assert.deepEqual({ status: b.status, body: await b.json() }, { status: a.status, body: await a.json() });
        assert.equal(a.status, 202);
        assert.match(mailTo(t, unknown)[0]!.subject, /Password reset requested/);
        const session = (await (await post('/auth/login', { email: account.email, password: PASSWORD })).json()) as { refreshToken: string };
        const code = codeIn(mailTo(t, account.email).at(-1));
        const stored = await db().selectFrom('email_tokens').select(['token_hash', 'purpose', 'account_id']).where('email', '=', account.email).execute();
        assert.deepEqual(stored.map((r) => [r.purpose, r.account_id]), [['reset_password', account.id]]);
        assert.notEqual(stored[0]!.token_hash, code);

        assert.equal((await post('/auth/password/reset', { token: code, password: NEW_PASSWORD })).status, 204);
        const reused = await post('/auth/password/reset', { token: code, password: 'yet another password' });
        assert.equal(reused.status, 400, 'single use');
        assert.equal((await errorOf(reused)).code, 'invalid_email_token');
        assert.equal((await post('/auth/login', { email: account.email, password: PASSWORD })).status, 401);
        assert.equal((await post('/auth/login', { email: account.email, password: NEW_PASSWORD })).status, 200);
        const refreshed = await post('/auth/refresh', { refreshToken: session.refreshToken });
        assert.equal(refreshed.status, 401, 'sessions from before the reset are signed out');
        const open = await db().selectFrom('refresh_tokens').select('revoked_at').where('account_id', '=', account.id).where('revoked_at', 'is', null).execute();
        assert.equal(open.length, 1, 'only the session started after the reset is open');

        await post('/auth/password/forgot', { email: account.email });
        const late = codeIn(mailTo(t, account.email).at(-1));
        ctx.mock.timers.tick(30 * 60_000 + 1000);
        assert.equal((await post('/auth/password/reset', { token: late, password: 'too late password' })).status, 400, 'expired after 30 minutes');
      });

      it('a reset also ends the access someone with the old password handed out: the family device key and the children’s sessions', async () => {
        const { account, principal } = await newGuardian();
        // The intruder, signed in with the old password, sets up a child's sign-in on a device they hold.
        const childId = (await t.container.children.create(principal, { nickname: 'Kit', grade: 1 })).id;
        await t.container.children.setPin(principal, childId, '1234');
        const { deviceKey } = await t.container.children.createDeviceKey(principal);
        const session = await t.container.children.startDeviceSession(principal, childId);
        assert.equal((await post('/auth/pin', { childId, pin: '1234', deviceKey })).status, 200, 'works before the reset');

        await post('/auth/password/forgot', { email: account.email });
        assert.equal((await post('/auth/password/reset', { token: codeIn(mailTo(t, account.email).at(-1)), password: NEW_PASSWORD })).status, 204);

        const pin = await post('/auth/pin', { childId, pin: '1234', deviceKey });
        assert.equal(pin.status, 401, 'the old family device key signs no child in');
        assert.equal((await errorOf(pin)).code, 'invalid_pin');
        assert.equal((await post('/auth/refresh', { refreshToken: session.refreshToken })).status, 401, 'the child session from before the reset is over');
        assert.deepEqual(await db().selectFrom('family_device_keys').select('guardian_id').where('guardian_id', '=', account.id).execute(), []);
        const open = await db().selectFrom('refresh_tokens').select('token_hash').where('child_id', '=', childId).where('revoked_at', 'is', null).execute();
        assert.deepEqual(open, [], 'no child session left open');
        // The guardian starts the family's device again with a new key.
        const fresh = await t.container.children.createDeviceKey(principal);
        assert.equal((await post('/auth/pin', { childId, pin: '1234', deviceKey: fresh.deviceKey })).status, 200);
      });

      it('cannot be used to flood an inbox: at most five mails an hour per address, the answer unchanged', async () => {
        const target = `${unique('flood')}@example.com`;
        const answers = [];
        for (let i = 0; i < 8; i++) answers.push((await post('/auth/password/forgot', { email: target })).status);
        assert.deepEqual(answers, Array(8).fill(202));
        assert.equal(mailTo(t, target).length, 5);
        // Past the budget nothing is written either; each mailed request stored one code row, bound to
        // no account here (an unknown address does the same database work as a known one).
        const rows = await db().selectFrom('email_tokens').select(['purpose', 'account_id']).where('email', '=', target).execute();
        assert.deepEqual(rows, Array(5).fill({ purpose: 'reset_password', account_id: null }));
        const { account } = await newGuardian();
        for (let i = 0; i < 8; i++) await post('/auth/password/forgot', { email: account.email });
        const known = await db().selectFrom('email_tokens').select('account_id').where('email', '=', account.email).execute();
        assert.equal(known.length, 5, 'a known address: five codes, no more');
      });
    });
  });
}

describe('sign-up while the mail server is down', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  before(async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    dispose = opened.dispose;
    // Port 9 (discard) on loopback: nothing listens, so every connection is refused.
    t = await createTestApp({ database: opened.database, cache: opened.cache, env: { SMTP_URL: 'smtp://127.0.0.1:9', MAIL_TIMEOUT_MS: '500', TRUST_PROXY: 'true' } });
    await createFixtureApp(t.container, 'alpha');
  });
  after(async () => dispose());

  it('answers 503 mail_unavailable with Retry-After, the same for a new and a known address', async () => {
    assert.equal(t.container.mailer.kind, 'smtp', 'SMTP_URL selects the SMTP adapter');
    await t.container.accounts.register('alpha', { email: 'known@example.com', password: PASSWORD, role: 'guardian' });
    const register = (email: string) =>
      t.request('/auth/register', { method: 'POST', headers: { 'x-app-id': 'alpha', 'x-forwarded-for': email }, body: JSON.stringify({ email, password: PASSWORD, role: 'guardian' }) });
    const answers = [];
    for (const email of ['new@example.com', 'known@example.com']) {
      const res = await register(email);
      const body = (await res.json()) as ErrorJson;
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), error: { ...body.error, requestId: undefined } });
    }
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[0], { status: 503, retryAfter: '60', error: { code: 'mail_unavailable', message: 'Email cannot be sent right now; try again in a minute', requestId: undefined } });
  });
});
