import fc from 'fast-check';

/**
 * Requests for the OpenAPI fuzz test, generated from the app's own document:
 * values the schemas describe (and real ids, by field name), and hostile
 * values in their place. Kept apart from the test so the generators can be
 * sampled on their own (`fc.sample(requestFor(...))`).
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON Schema node as @hono/zod-openapi writes it. */
// A JSON Schema node as @hono/zod-openapi writes it: read loosely on purpose,
// since the document is data here and any shape it takes must be walked.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = { [key: string]: any };

/** A parameter of an operation, as the document declares it. */
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Schema;
}

/** One method on one path, with what it takes. */
export interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body: Schema | undefined;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of the document; DELETEs last, so they do not erase the seeded objects the others aim at. */
export function operationsOf(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method] as Schema | undefined;
      if (!op) continue;
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Schema) => resolve(doc, p) as Parameter);
      const body = op.requestBody ? resolve(doc, resolve(doc, op.requestBody).content?.['application/json']?.schema ?? {}) : undefined;
      ops.push({ method: method.toUpperCase(), path, parameters, body });
    }
  }
  return ops.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
}

function resolve(doc: Schema, node: Schema): Schema {
  let n = node;
  for (let i = 0; n && typeof n.$ref === 'string' && i < 20; i++) {
    n = n.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((o: Schema, k: string) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return n ?? {};
}

// ---------------------------------------------------------------- hostile values

/** Single UTF-16 code units, lone surrogates included (fast-check's own units never produce those). */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const hostileConstants: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfff',
    '\udc00\ud800',
    '\u202eevil',
    'a\u200bb',
    '\ufeff',
    '',
    ' ',
    '%00',
    '../../etc/passwd',
    "'; drop table answers; --",
    '\\',
    '"',
    'null',
    'NaN',
    'Infinity',
    '1e309',
    '-0',
    '0x0B',
    '1.1e1',
    ' 11 ',
    'US/Pacific-New',
    '+02:00',
    '0000-01-01T00:00:00Z',
    '1970-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '+275760-09-13T00:00:00Z',
    '-271821-04-20T00:00:00Z',
    '2026-02-30T00:00:00Z',
    'x'.repeat(10_000),
  ),
  fc.string({ unit: codeUnit, maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);

/**
 * Characters no stored text may hold (NUL, lone surrogates: weighted up, as
 * the ones databases fail on) or that change how a name reads.
 */
const POISON = ['\u0000', '\u0000', '\u0000', '\ud800', '\udfff', '\udc00', '\u202e', '\u200b', '\u2028', '\u0007'];

/** `base` with one poison character put in at some position: `a\u0000b` rather than only `\u0000`. */
export function poisoned(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.constantFrom(...POISON), fc.nat()).map(([s, p, at]) => {
    const i = s.length ? at % (s.length + 1) : 0;
    return s.slice(0, i) + p + s.slice(i);
  });
}

/** Hostile strings, about half of them ordinary text with one poison character in it. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileConstants, weight: 2 },
  { arbitrary: poisoned(fc.string({ maxLength: 12 })), weight: 3 },
);

/** Numbers at and past every limit: huge, negative, fractional, subnormal, beyond 2^53. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER - 2, 2 ** 63, -1, -2_147_483_649, 0.5, -0, 5e-324),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A value nested `depth` levels deep, small enough for JSON.stringify. */
const nested = (depth: number, kind: 'array' | 'object'): Json => {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
};

/** Any hostile JSON value: strings, numbers, wrong types, 500-deep nesting, random JSON. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: hostileString, weight: 4 },
  { arbitrary: hostileNumber, weight: 3 },
  { arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, nested(500, 'array'), nested(500, 'object')), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, weight: 1 },
);

/** Bodies that are not the JSON a schema describes at all, sent as raw text. */
const rawBodies = fc.constantFrom(
  '',
  '{',
  'not json',
  '{"a":1,}',
  '[]',
  'null',
  '"\\u0000"',
  '{"x":"\\ud800"}',
  '['.repeat(100_000) + ']'.repeat(100_000),
  '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
);

// ---------------------------------------------------------------- values from the schema

/** Real values by field or parameter name, so generated requests sometimes reach stored objects. */
export type Known = Record<string, Json[]>;

/** Values the schema describes (mostly the real value when `known` has one for `name`). */
export function fromSchema(doc: Schema, node: Schema, known: Known, name?: string, depth = 0, poisonText = false): fc.Arbitrary<Json> {
  const s = resolve(doc, node);
  const real = name !== undefined ? known[name] : undefined;
  const own = generated(doc, s, known, depth, poisonText);
  if (poisonText && isFreeText(s)) {
    // Every other field valid, this one (real or generated) with a poison character in it.
    const texts = (real ?? []).filter((v): v is string => typeof v === 'string');
    return poisoned(texts.length ? fc.oneof(fc.constantFrom(...texts), own as fc.Arbitrary<string>) : (own as fc.Arbitrary<string>));
  }
  // Mostly the real value: a request must get past the other fields' checks to reach the handler's database work.
  return real?.length ? fc.oneof({ arbitrary: fc.constantFrom(...real), weight: 9 }, { arbitrary: own, weight: 1 }) : own;
}

/** A string the schema does not constrain by pattern, format or enum: where text rules can be forgotten. */
function isFreeText(s: Schema): boolean {
  return s.type === 'string' && s.pattern === undefined && s.format === undefined && s.enum === undefined;
}

function generated(doc: Schema, s: Schema, known: Known, depth: number, poisonText: boolean): fc.Arbitrary<Json> {
  const alternatives = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alternatives?.length) return fc.oneof(...alternatives.map((a) => fromSchema(doc, a, known, undefined, depth + 1, poisonText)));
  if (Array.isArray(s.allOf) && s.allOf.length) return fromSchema(doc, s.allOf[0] as Schema, known, undefined, depth + 1, poisonText);
  if (Array.isArray(s.enum) && s.enum.length) return fc.constantFrom(...(s.enum as Json[]));
  if (s.const !== undefined) return fc.constant(s.const as Json);
  const type = Array.isArray(s.type) ? (s.type as string[]).find((x) => x !== 'null') : (s.type as string | undefined);
  const nullable = Array.isArray(s.type) && (s.type as string[]).includes('null');
  const base = ((): fc.Arbitrary<Json> => {
    switch (type) {
      case 'string':
        return stringFor(s);
      case 'integer':
        return fc.integer({ min: Math.max(s.minimum ?? -1000, -(2 ** 31)), max: Math.min(s.maximum ?? 1000, 2 ** 31) });
      case 'number':
        return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 1000, noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'array':
        if (depth > 6) return fc.constant([]);
        return fc.array(fromSchema(doc, s.items ?? {}, known, undefined, depth + 1, poisonText), { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)) });
      case 'object': {
        if (depth > 6 || !s.properties) return fc.constant({});
        const props = s.properties as Record<string, Schema>;
        const shape = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromSchema(doc, v, known, k, depth + 1, poisonText)]));
        return fc.record(shape, { requiredKeys: (s.required as string[] | undefined) ?? [] }) as fc.Arbitrary<Json>;
      }
      default:
        return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>;
    }
  })();
  return nullable ? fc.option(base, { nil: null }) : base;
}

function stringFor(s: Schema): fc.Arbitrary<string> {
  if (s.format === 'date-time') {
    return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date(), noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (s.format === 'email') return fc.emailAddress();
  if (s.format === 'uri' || s.format === 'url') return fc.webUrl();
  if (typeof s.pattern === 'string') {
    try {
      return fc.stringMatching(new RegExp(s.pattern as string));
    } catch {
      // A pattern fast-check cannot read: fall through to a plain string.
    }
  }
  const min = (s.minLength as number | undefined) ?? 0;
  const plain = fc.string({ minLength: min, maxLength: Math.max(min, Math.min((s.maxLength as number | undefined) ?? 20, 40)) });
  // Free text (no pattern, no format) is where a schema can forget the text
  // rules: one value in four carries a poison character while every other
  // field stays valid, so it reaches the handler and the database.
  return fc.oneof({ arbitrary: plain, weight: 3 }, { arbitrary: poisoned(plain), weight: 1 });
}

/** Every path to a value inside `v` (the root is `[]`). */
function pathsIn(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsIn(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsIn(x, [...prefix, k]));
  return out;
}

function valueAt(v: Json, path: (string | number)[]): Json | undefined {
  let x: Json | undefined = v;
  for (const k of path) x = x && typeof x === 'object' ? (x as Record<string | number, Json>)[k] : undefined;
  return x;
}

function replaceAt(v: Json, path: (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) return v.map((x, i) => (i === head ? replaceAt(x, rest, value) : x));
  if (v && typeof v === 'object') return { ...v, [head!]: replaceAt((v as Record<string, Json>)[head!]!, rest, value) };
  return v;
}

/** A request body: valid by the schema, valid with one value made hostile, with an extra field, hostile throughout, or not JSON at all. */
function bodyFor(doc: Schema, schema: Schema, known: Known): fc.Arbitrary<{ text: string; type: string }> {
  const valid = fromSchema(doc, schema, known);
  const asJson = (v: Json) => ({ text: JSON.stringify(v), type: 'application/json' });
  return fc.oneof(
    { arbitrary: valid.map(asJson), weight: 2 },
    // Valid in every field except the free-text ones, which carry a poison character.
    { arbitrary: fromSchema(doc, schema, known, undefined, 0, true).map(asJson), weight: 3 },
    {
      arbitrary: valid.chain((v) => fc.tuple(fc.constantFrom(...pathsIn(v)), hostileValue).map(([path, bad]) => asJson(replaceAt(v, path, bad)))),
      weight: 3,
    },
    {
      // A string the schema allows, with one poison character in it: the closest miss.
      arbitrary: valid.chain((v) => {
        const strings = pathsIn(v).filter((path) => typeof valueAt(v, path) === 'string');
        if (!strings.length) return fc.constant(asJson(v));
        return fc.tuple(fc.constantFrom(...strings), fc.constantFrom(...POISON), fc.nat()).map(([path, p, at]) => {
          const text = valueAt(v, path) as string;
          const i = at % (text.length + 1);
          return asJson(replaceAt(v, path, text.slice(0, i) + p + text.slice(i)));
        });
      }),
      weight: 6,
    },
    {
      arbitrary: fc.tuple(valid, fc.string({ unit: codeUnit, minLength: 1, maxLength: 12 }), hostileValue).map(([v, k, x]) =>
        asJson(v && typeof v === 'object' && !Array.isArray(v) ? { ...v, [k]: x } : v),
      ),
      weight: 1,
    },
    { arbitrary: hostileValue.map(asJson), weight: 1 },
    { arbitrary: rawBodies.map((text) => ({ text, type: 'application/json' })), weight: 1 },
    { arbitrary: valid.map((v) => ({ text: JSON.stringify(v), type: 'text/plain' })), weight: 1 },
  );
}

/**
 * Percent-encodes a path or query value. A lone surrogate cannot be encoded
 * as UTF-8, so it is sent as the bytes a careless client would write
 * (CESU-8, invalid UTF-8), which the server must refuse like any other bad value.
 */
export function encode(value: string): string {
  let out = '';
  for (const ch of value) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      const c = ch.charCodeAt(0);
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    }
  }
  return out;
}

/** A generated request: URL with path and query, header parameters, and a body (text plus content type). */
export interface FuzzRequest {
  url: string;
  headers: Record<string, string>;
  body: { text: string; type: string } | undefined;
}

/** Requests for one operation: each parameter and the body valid, hostile, missing or extra. */
export function requestFor(doc: Schema, op: Operation, known: Known): fc.Arbitrary<FuzzRequest> {
  const textOf = (v: Json) => (typeof v === 'string' ? v : JSON.stringify(v));
  const valueFor = (p: Parameter) =>
    fc.oneof(
      { arbitrary: fromSchema(doc, p.schema ?? {}, known, p.name).map(textOf), weight: 3 },
      { arbitrary: poisoned(fromSchema(doc, p.schema ?? {}, known, p.name).map(textOf)), weight: 2 },
      { arbitrary: hostileString, weight: 1 },
      { arbitrary: hostileNumber.map(String), weight: 1 },
    );
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  // Header values cannot hold NUL, line breaks or non-Latin-1 text at all (fetch refuses them).
  const headerValue = (p: Parameter) =>
    fc.oneof(
      { arbitrary: fromSchema(doc, p.schema ?? {}, known, p.name).map(textOf).filter((v) => /^[\x20-\x7e]*$/.test(v)), weight: 3 },
      // Latin-1 letters pass through fetch as raw bytes (invalid UTF-8 on the wire).
      { arbitrary: fc.stringMatching(/^[\x21-\x7e\xa0-\xff]{0,300}$/), weight: 1 },
    );
  return fc.record({
    path: fc.tuple(...pathParams.map((p) => valueFor(p))).map((values) => {
      let url = op.path;
      pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, encode(values[i]!) || '%20')));
      return url;
    }),
    query: fc.tuple(
      ...queryParams.map((p) => fc.option(valueFor(p), { nil: undefined, freq: p.required ? 100 : 3 })),
      // An unknown parameter in about one request of four.
      fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.tuple(fc.string({ unit: codeUnit, minLength: 1, maxLength: 8 }), hostileString), weight: 1 }),
    ),
    headers: fc.tuple(...headerParams.map((p) => fc.option(headerValue(p), { nil: undefined, freq: 10 }))),
    body: op.body ? fc.option(bodyFor(doc, op.body, known), { nil: undefined, freq: 20 }) : fc.constant(undefined),
  }).map(({ path, query, headers, body }) => {
    const pairs: string[] = [];
    queryParams.forEach((p, i) => {
      const v = query[i] as string | undefined;
      if (v !== undefined) pairs.push(`${encode(p.name)}=${encode(v)}`);
    });
    const extra = query[queryParams.length] as [string, string] | undefined;
    if (extra) pairs.push(`${encode(extra[0])}=${encode(extra[1])}`);
    const h: Record<string, string> = {};
    headerParams.forEach((p, i) => {
      const v = headers[i] as string | undefined;
      if (v !== undefined) h[p.name] = v;
    });
    return { url: pairs.length ? `${path}?${pairs.join('&')}` : path, headers: h, body };
  });
}

// ---------------------------------------------------------------- what no answer may contain

/** What no response body may show: stack frames, source paths, error classes, SQL, database messages, schema names. */
export const LEAKS: [string, RegExp][] = [
  ['stack frame', /\bat (?:async )?[\w.<>$[\] ]*\(?(?:file:\/\/|node:|\/)[^)\s]*:\d+:\d+/],
  ['source path', /node_modules|\/src\/|\.ts:\d+/],
  ['error class', /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|DatabaseError|error: )/],
  ['SQL', /\b(?:select|insert into|update|delete from)\b[^"]{0,80}"?\b(?:from|set|values|where)\b/i],
  ['database message', /SQLSTATE|syntax error at|violates|duplicate key|relation "|column "|invalid byte sequence|unsupported Unicode escape|out of range for type|time zone "[^"]*" not recognized/i],
  ['schema name', /\bapp_[a-z0-9_]+\./],
];

/** Documents (and the docs page's static assets) whose text legitimately mentions words the leak patterns look for. */
export const DOCUMENTS = new Set(['/openapi.json', '/docs', '/docs/assets/{name}', '/metrics']);

/** FNV-1a of `text`: a stable per-operation seed offset. */
export function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

