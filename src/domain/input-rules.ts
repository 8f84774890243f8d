import { z } from '@hono/zod-openapi';
import { TIME_ZONE_NAMES } from './time-zones.ts';

/**
 * What text, ids, instants, numbers and time zones the API accepts, decided
 * once. Every request schema (bodies, path and query parameters) builds its
 * strings from these blocks, so a malformed value is a 400 naming the field
 * instead of a database error (PostgreSQL `text` and `jsonb` cannot hold NUL
 * or ill-formed UTF-16, and `pg` silently replaces a lone surrogate, so a
 * stored key would no longer match its retry). `docs/errors.md` ("What the
 * API accepts") states the same rules for client authors.
 */

/** C0 and C1 control characters other than tab, line feed and carriage return. */
const CONTROL_EXCEPT_LAYOUT = /[^\t\n\r\P{Cc}]/u;
/**
 * Characters that change how a name looks without being seen: controls,
 * format characters (bidirectional overrides, embeddings and isolates,
 * zero-width space/joiners, word joiner, byte-order mark, soft hyphen, tag
 * characters), and line/paragraph separators. A nickname or classroom name
 * holding one can look identical to another, or reorder what is shown next to it.
 */
const INVISIBLE_IN_NAMES = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Why `value` is not acceptable text, or undefined when it is. */
export function textProblem(value: string, kind: 'text' | 'name'): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (!value.isWellFormed()) return 'must be well-formed Unicode (no lone surrogates)';
  if (kind === 'name') {
    if (INVISIBLE_IN_NAMES.test(value)) return 'must not contain control, formatting (bidirectional or zero-width) or line-separator characters';
  } else if (CONTROL_EXCEPT_LAYOUT.test(value)) {
    return 'must not contain control characters other than tab and line breaks';
  }
  return undefined;
}

/** A Zod refinement applying {@link textProblem}, for string schemas built elsewhere (URLs). */
export function refineText(kind: 'text' | 'name') {
  return (value: string, ctx: z.RefinementCtx) => {
    const problem = textProblem(value, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };
}

/**
 * Free text (lesson text, prompts, explanations, answers typed by a child):
 * well-formed Unicode without NUL or control characters; tab and line breaks
 * are allowed. Not trimmed: what the author wrote is kept.
 */
export function safeText(options: { max: number; min?: number }): z.ZodString {
  return z.string().min(options.min ?? 0).max(options.max).superRefine(refineText('text'));
}

/**
 * Names people read (nicknames, classroom names, lesson titles): trimmed,
 * 1–`max` characters, and free of anything invisible (see
 * {@link INVISIBLE_IN_NAMES}). Emoji are fine; emoji sequences joined with
 * U+200D and subdivision flags (tag characters) are not.
 */
export function safeName(max: number): z.ZodString {
  return z.string().trim().min(1).max(max).superRefine(refineText('name'));
}

/** The shape of every server-side id: a slug (UUIDs fit). */
export const RESOURCE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Slug-like ids for concepts, lessons, items, children and classrooms: stable, URL-safe, bounded. */
export const safeId = z.string().regex(RESOURCE_ID_PATTERN, 'must be 1–64 chars of a-z, 0-9, "_" or "-", starting with a letter or digit');

/**
 * Ids a client chooses (`clientEventId`): 1–100 visible ASCII characters
 * (U+0021–U+007E), so an id is stored exactly as sent and its retry finds it.
 */
export const clientId = z
  .string()
  .regex(/^[\x21-\x7e]{1,100}$/, 'must be 1–100 visible ASCII characters (no spaces)')
  .openapi({ description: 'Unique per child; a retry with the same id is not counted twice', example: 'c1f3a0d2-2b7e-4c55-9a51-0f2f4b1c9e77' });

/** Opaque tokens a client hands back (refresh tokens): 1–200 visible ASCII characters. */
export const opaqueToken = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'must be a token issued by this server');

/** Earliest instant the API accepts: nothing in this service happened before it. */
export const EARLIEST_INSTANT = new Date('2000-01-01T00:00:00Z');

/**
 * How far in the future (by the server's clock) an instant may be. Children's
 * tablets are often offline for days, with clocks set by hand or a wrong time
 * zone, and a refused instant blocks the whole offline batch it travels in,
 * so the window is generous: a day (what the API accepted before the input
 * rules). Beyond it the clock is plainly wrong, and accepting it would move
 * reviews and streaks far into the future.
 */
export const MAX_CLOCK_SKEW_MS = 24 * 3_600_000;
const SKEW_HOURS = MAX_CLOCK_SKEW_MS / 3_600_000;

/**
 * An instant in RFC 3339 form with a `Z` or numeric offset, turned into a
 * Date, between {@link EARLIEST_INSTANT} and {@link MAX_CLOCK_SKEW_MS} after
 * now. Year 0, 1970 placeholders and far-future clocks are refused.
 */
export function instant(): z.ZodType<Date, string> {
  return z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s))
    .superRefine((d, ctx) => {
      const t = d.getTime();
      if (!Number.isFinite(t) || t < EARLIEST_INSTANT.getTime() || t > Date.now() + MAX_CLOCK_SKEW_MS) {
        ctx.addIssue({ code: 'custom', message: `must be between ${EARLIEST_INSTANT.toISOString()} and ${SKEW_HOURS} hours from now` });
      }
    })
    .openapi({ type: 'string', format: 'date-time', description: `Not before ${EARLIEST_INSTANT.toISOString()}, not more than ${SKEW_HOURS} hours ahead of the server` });
}

const PLAIN_DECIMAL = /^-?\d{1,30}(?:\.\d{1,30})?$/;

/**
 * Reads a number typed as text, accepting only plain decimal notation: an
 * optional minus sign, digits, optionally a point and more digits. No spaces,
 * `+`, exponents, hex, binary, separators or `Infinity`, so `"0x0B"`,
 * `"1.1e1"` and `" 11 "` are not read as 11. Returns undefined otherwise.
 */
export function parsePlainDecimal(text: string): number | undefined {
  if (!PLAIN_DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

const TIME_ZONES = new Set(TIME_ZONE_NAMES);

/** Is `name` a time zone both JavaScript and the database read the same way ({@link TIME_ZONE_NAMES})? */
export function isAcceptedTimeZone(name: string): boolean {
  return TIME_ZONES.has(name);
}

/** An IANA time zone name from {@link TIME_ZONE_NAMES} (`UTC`, `Europe/Berlin`…); offsets and POSIX strings are refused. */
export const timeZone = z
  .string()
  .max(64)
  .refine(isAcceptedTimeZone, 'must be an IANA time zone such as Europe/Berlin')
  .openapi({ example: 'America/Los_Angeles' });
