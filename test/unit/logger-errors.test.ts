import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observability/logger.ts';

describe('logger: database errors', () => {
  it('never logs the bound values, statement or row detail of a database error, in the error or its cause', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    const logger = createLogger({ level: 'info', destination });
    const db = Object.assign(new Error('insert or update on table "practice_items" violates foreign key constraint'), {
      code: '23503',
      constraint: 'practice_items_generated_for_fkey',
      params: ['gen-1', 'child-123'],
      query: 'insert into practice_items (id, generated_for) values ($1, $2)',
      detail: 'Key (generated_for)=(child-123) is not present in table "children".',
      where: 'SQL statement',
    });
    logger.warn({ err: new Error('plan: no fresh item', { cause: db }) }, 'plan: no fresh item');
    logger.warn({ err: db }, 'direct');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    assert.doesNotMatch(text, /child-123/);
    assert.doesNotMatch(text, /insert into/);
    assert.match(text, /violates foreign key constraint/);
    assert.match(text, /"code":"23503"/);
    assert.match(text, /practice_items_generated_for_fkey/);
  });
});
