import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clientId, EARLIEST_INSTANT, instant, isAcceptedTimeZone, MAX_CLOCK_SKEW_MS, parsePlainDecimal, safeId, safeName, safeText, textProblem } from '../../src/domain/input-rules.ts';

/** The shared input rules, on their own: what text, names, ids, instants, numbers and zones pass. */

const SEED = 90_412;
/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyText = fc.string({ unit: codeUnit, maxLength: 40 });

describe('text', () => {
  it('refuses every string holding NUL or a lone surrogate, as text and as a name', () => {
    fc.assert(
      fc.property(anyText, fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff'), anyText, (a, bad, b) => {
        const s = a + bad + b;
        // A high surrogate followed by a low one is a pair, not a lone surrogate: only assert what is truly ill-formed.
        if (bad !== '\u0000' && s.isWellFormed()) return;
        assert.notEqual(textProblem(s, 'text'), undefined, JSON.stringify(s));
        assert.notEqual(textProblem(s, 'name'), undefined, JSON.stringify(s));
        assert.equal(safeText({ max: 1000 }).safeParse(s).success, false);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('says which rule a value broke', () => {
    assert.equal(textProblem('a\u0000b', 'text'), 'must not contain NUL characters');
    assert.equal(textProblem('a\ud800', 'text'), 'must be well-formed Unicode (no lone surrogates)');
    assert.match(textProblem('a\u0007', 'text')!, /control characters/);
    assert.match(textProblem('a\u202eb', 'name')!, /bidirectional or zero-width/);
  });

  it('accepts every well-formed string without control characters other than tab and line breaks', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (raw) => {
        const s = raw.replace(/[^\t\n\r\P{Cc}]/gu, '');
        assert.equal(textProblem(s, 'text'), undefined, JSON.stringify(s));
        assert.equal(safeText({ max: 1000 }).parse(s), s, 'kept exactly');
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('names refuse invisible characters that free text keeps', () => {
    for (const ch of ['\u202e', '\u202a', '\u2066', '\u2069', '\u200e', '\u200f', '\u061c', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u2028', '\u2029', '\t', '\n', '\u{e0067}']) {
      const s = `Sa${ch}m`;
      assert.notEqual(textProblem(s, 'name'), undefined, `name with U+${ch.codePointAt(0)!.toString(16)}`);
      assert.equal(safeName(40).safeParse(s).success, false);
      if (!/[\t\n]/.test(ch)) assert.equal(textProblem(s, 'text'), undefined, `text keeps U+${ch.codePointAt(0)!.toString(16)}`);
    }
    assert.equal(safeName(40).parse('  Zoë 🦊 محمد  '), 'Zoë 🦊 محمد', 'trimmed, otherwise kept');
    assert.equal(safeName(40).safeParse('   ').success, false, 'blank');
  });
});

describe('ids', () => {
  it('server ids are slugs; client event ids visible ASCII', () => {
    for (const ok of ['a', 'alpha-only', '0f8e2a1c-5d7b-4e3a-9c1d-2b3a4c5d6e7f', 'x'.repeat(64)]) assert.equal(safeId.safeParse(ok).success, true, ok);
    for (const bad of ['', '-a', 'A', 'a b', 'a\u0000b', 'x'.repeat(65), 'é']) assert.equal(safeId.safeParse(bad).success, false, bad);
    for (const ok of ['e-1', '2026-12-03T09:30:00Z#3', '~!']) assert.equal(clientId.safeParse(ok).success, true, ok);
    for (const bad of ['', 'a b', 'a\u0000', 'e\ud800', 'é', 'x'.repeat(101)]) assert.equal(clientId.safeParse(bad).success, false, JSON.stringify(bad));
  });
});

describe('instants', () => {
  const at = instant();
  it(`accepts ${EARLIEST_INSTANT.toISOString()} up to ${MAX_CLOCK_SKEW_MS / 3_600_000} hours from now, with Z or an offset`, () => {
    assert.equal(at.parse('2000-01-01T00:00:00Z').getTime(), EARLIEST_INSTANT.getTime());
    assert.equal(at.parse('2026-06-01T12:00:00+02:00').toISOString(), '2026-06-01T10:00:00.000Z');
    assert.ok(at.safeParse(new Date(Date.now() + MAX_CLOCK_SKEW_MS - 10_000).toISOString()).success, 'just inside the skew');
  });
  it('refuses year 0, 1970, anything before 2000, far futures and impossible dates', () => {
    for (const bad of ['0000-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '1999-12-31T23:59:59Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z', '2026-06-01T12:00:00', '2026-06-01', new Date(Date.now() + MAX_CLOCK_SKEW_MS + 10_000).toISOString()]) {
      assert.equal(at.safeParse(bad).success, false, bad);
    }
  });
});

describe('numbers typed as text', () => {
  it('reads plain decimal exactly as Number does', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 0, max: 999 }), (whole, frac) => {
        const text = `${whole}.${String(frac).padStart(3, '0')}`;
        assert.equal(parsePlainDecimal(text), Number(text));
        assert.equal(parsePlainDecimal(String(whole)), whole);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
  it('refuses every other notation Number() would read', () => {
    for (const text of ['0x0B', '0b1011', '0o13', '1.1e1', '11e0', '1E1', ' 11', '11 ', '\t11', '+11', '11.', '.5', '1_000', '1,5', 'Infinity', '-Infinity', 'NaN', '', '-', '--1', '1-']) {
      assert.equal(parsePlainDecimal(text), undefined, JSON.stringify(text));
    }
  });
});

describe('time zones', () => {
  it('accepts every zone this runtime lists (what a browser reports), refuses what PostgreSQL cannot read', () => {
    const missing = Intl.supportedValuesOf('timeZone').filter((z) => !isAcceptedTimeZone(z));
    assert.deepEqual(missing, [], 'zones a device may report that the API would refuse');
    for (const bad of ['US/Pacific-New', '+02:00', 'UTC+2', 'EST5EDT', 'Etc/GMT+5', 'posix/Europe/Berlin', 'europe/berlin', 'Europe/Berlin\u0000', '']) {
      assert.equal(isAcceptedTimeZone(bad), false, bad);
    }
    // JavaScript itself still accepts the zone PostgreSQL refuses: the reason for the list.
    assert.doesNotThrow(() => new Intl.DateTimeFormat('en', { timeZone: 'US/Pacific-New' }));
  });
});
