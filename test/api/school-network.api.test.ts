import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_AUTH_HASH_IP_PER_MINUTE, DEFAULT_AUTH_IP_PER_MINUTE } from '../../src/config/config.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * A school puts every device behind one address. With the default limits, a
 * pupil sending wrong passwords from that address must not shut the school
 * out of sign-in: a class of thirty signs in with PINs and refreshes its
 * tokens, and the teacher's own device still signs in. (Before the per-address
 * limit became flood protection only, the eleventh `/auth` request of the
 * minute from the school answered 429 for everyone there.)
 */

type ErrorJson = { error: { code: string; details?: { limit?: number } } };

const SCHOOL = '198.51.100.7';
const PASSWORD = 'correct horse battery';
const SIGN_IN_FAILURES = 10;
const CLASS_SIZE = 30;

for (const stack of await stacks()) {
  describe(`a school behind one address, on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;

    const fromSchool = (path: string, body: unknown) =>
      t.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'x-app-id': 'alpha', 'x-forwarded-for': SCHOOL } });

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({
        database: opened.database,
        cache: opened.cache,
        // The shipped defaults for sign-in, behind the school's proxy.
        env: {
          RATE_LIMIT_AUTH_PER_MINUTE: String(SIGN_IN_FAILURES),
          RATE_LIMIT_AUTH_IP_PER_MINUTE: String(DEFAULT_AUTH_IP_PER_MINUTE),
          RATE_LIMIT_AUTH_HASH_IP_PER_MINUTE: String(DEFAULT_AUTH_HASH_IP_PER_MINUTE),
          TRUST_PROXY: 'true',
        },
      });
      await createFixtureApp(t.container, 'alpha');
    });
    after(async () => dispose());

    it('a pupil guessing the teacher’s password locks out neither the class (PIN sign-in, refresh) nor the teacher’s own device', async () => {
      const teacherEmail = 'teacher@school.example';
      await t.container.accounts.register('alpha', { email: teacherEmail, password: PASSWORD, role: 'teacher' });
      const first = await fromSchool('/auth/login', { email: teacherEmail, password: PASSWORD });
      assert.equal(first.status, 200);
      const { deviceToken } = (await first.json()) as { deviceToken: string };

      // Six families with five children each, every child with a PIN, every family with its device key.
      const children: { id: string; pin: string; deviceKey: string }[] = [];
      for (let f = 0; f < CLASS_SIZE / 5; f++) {
        const account = await t.container.accounts.register('alpha', { email: `family-${f}@example.com`, password: PASSWORD, role: 'guardian' });
        const guardian: Principal = { sub: account.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
        const { deviceKey } = await t.container.children.createDeviceKey(guardian);
        for (let c = 0; c < 5; c++) {
          const { id } = await t.container.children.create(guardian, { nickname: `Kid ${f}-${c}`, grade: 2 });
          const pin = String(4000 + f * 10 + c);
          await t.container.children.setPin(guardian, id, pin);
          children.push({ id, pin, deviceKey });
        }
      }

      // The pupil: wrong passwords for the teacher's account until refused.
      const guesses: number[] = [];
      for (let i = 0; i < SIGN_IN_FAILURES + 5; i++) guesses.push((await fromSchool('/auth/login', { email: teacherEmail, password: `guess number ${i}` })).status);
      assert.deepEqual(guesses, [...Array<number>(SIGN_IN_FAILURES).fill(401), ...Array<number>(5).fill(429)]);

      // The class signs in with PINs and renews its tokens, all from the same address.
      const signIns = await Promise.all(children.map((c) => fromSchool('/auth/pin', { childId: c.id, pin: c.pin, deviceKey: c.deviceKey })));
      assert.deepEqual(
        signIns.map((r) => r.status),
        Array<number>(CLASS_SIZE).fill(200),
      );
      const pairs = (await Promise.all(signIns.map((r) => r.json()))) as { refreshToken: string }[];
      const renewed = await Promise.all(pairs.map((p) => fromSchool('/auth/refresh', { refreshToken: p.refreshToken })));
      assert.deepEqual(
        renewed.map((r) => r.status),
        Array<number>(CLASS_SIZE).fill(200),
      );

      // The teacher's trusted device signs in; the same credentials without it wait, as any client there does.
      const onDevice = await fromSchool('/auth/login', { email: teacherEmail, password: PASSWORD, deviceToken });
      assert.equal(onDevice.status, 200);
      const withoutDevice = await fromSchool('/auth/login', { email: teacherEmail, password: PASSWORD });
      assert.equal(withoutDevice.status, 429);
      const refused = (await withoutDevice.json()) as ErrorJson;
      assert.equal(refused.error.code, 'rate_limited');
      assert.equal(refused.error.details?.limit, SIGN_IN_FAILURES, 'held by the per-(account, client) limit, not the per-address one');
    });

    it('holds one address to the hashing budget on the routes that run scrypt, without touching the rest of /auth', async () => {
      const flood = '203.0.113.50';
      const statuses: number[] = [];
      for (let i = 0; i < DEFAULT_AUTH_HASH_IP_PER_MINUTE + 1; i++) {
        // A new made-up address each time: no per-account or per-client limit is ever reached, only the per-address one.
        const res = await t.request('/auth/login', { method: 'POST', body: JSON.stringify({ email: `nobody-${i}@example.com`, password: 'some long password' }), headers: { 'x-app-id': 'alpha', 'x-forwarded-for': flood } });
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [...Array<number>(DEFAULT_AUTH_HASH_IP_PER_MINUTE).fill(401), 429]);
      const pin = await t.request('/auth/pin', { method: 'POST', body: JSON.stringify({ childId: 'someone', pin: '1234', deviceKey: `dk_${'A'.repeat(43)}` }), headers: { 'x-app-id': 'alpha', 'x-forwarded-for': flood } });
      assert.equal(pin.status, 429, 'PIN sign-in hashes too');
      const logout = await t.request('/auth/logout', { method: 'POST', body: JSON.stringify({ refreshToken: 'rt_not-a-real-one' }), headers: { 'x-app-id': 'alpha', 'x-forwarded-for': flood } });
      assert.notEqual(logout.status, 429, 'routes that do not hash keep the wider budget');
    });

    it('still refuses a flood from one address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < DEFAULT_AUTH_IP_PER_MINUTE + 1; i++) {
        const res = await t.request('/auth/logout', { method: 'POST', body: JSON.stringify({ refreshToken: 'rt_not-a-real-one' }), headers: { 'x-app-id': 'alpha', 'x-forwarded-for': '203.0.113.9' } });
        statuses.push(res.status);
      }
      assert.ok(statuses.slice(0, DEFAULT_AUTH_IP_PER_MINUTE).every((s) => s !== 429), 'the limit is not reached early');
      assert.equal(statuses.at(-1), 429);
    });
  });
}
