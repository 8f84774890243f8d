import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkCandidate, parseModelOutput, type RejectionReason } from '../../src/domain/generated-item-checks.ts';

/** One recorded model output of test/fixtures/llm-outputs/outputs.json (see scripts/build-llm-fixtures.ts). */
export interface LlmFixture {
  id: string;
  app: string;
  conceptId: string;
  grade: number;
  existing: string[];
  output: string;
  expect: 'ok' | RejectionReason;
  fault?: string;
}

/** What the checks said about one fixture: `ok`, or every reason given (the first is the main one). */
export interface FixtureVerdict {
  fixture: LlmFixture;
  ok: boolean;
  reasons: RejectionReason[];
  detail: string;
}

export function loadLlmFixtures(): LlmFixture[] {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'llm-outputs', 'outputs.json'), 'utf8')) as LlmFixture[];
}

/** Runs one fixture's output through the checks exactly as the item generator does (parse, then each item). */
export function judge(fixture: LlmFixture): FixtureVerdict {
  const parsed = parseModelOutput(fixture.output);
  if (!parsed.ok) return { fixture, ok: false, reasons: ['malformed_output'], detail: parsed.detail };
  if (parsed.items.length === 0) return { fixture, ok: false, reasons: ['malformed_output'], detail: 'no items' };
  const reasons: RejectionReason[] = [];
  const details: string[] = [];
  for (const raw of parsed.items) {
    const r = checkCandidate(raw, { conceptId: fixture.conceptId, grade: fixture.grade, existing: fixture.existing.map((prompt) => ({ prompt })), difficulty: 0 });
    if (!r.ok) {
      reasons.push(...r.reasons);
      details.push(r.detail);
    }
  }
  return { fixture, ok: reasons.length === 0, reasons: [...new Set(reasons)], detail: details.join('; ') };
}
