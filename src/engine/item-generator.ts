import { randomUUID } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import type { Database } from '../adapters/db/database.ts';
import { isLlmUnavailable, type GenerationRequest, type GenerationTask, type LanguageModel, type LlmProvider } from '../adapters/llm/language-model.ts';
import type { Choice, ItemType, PracticeItem } from '../domain/curriculum.ts';
import { notFoundFor } from '../domain/access-policy.ts';
import { AppError } from '../domain/errors.ts';
import { CANDIDATE_OUTPUT_JSON_SCHEMA, checkCandidate, parseModelOutput, type RejectionReason } from '../domain/generated-item-checks.ts';
import { ResourceId } from '../domain/curriculum.ts';
import type { Logger } from '../observability/logger.ts';
import type { LlmMetrics } from '../observability/metrics.ts';
import { childExists, insertGeneratedItems, loadGenerationContext, recordUsage, tokensUsed, type GenerationContext } from './generated-items.repo.ts';

/** Version of the prompt below; recorded in every generated item's provenance. Change it when the prompt changes. */
export const PROMPT_VERSION = 'practice-items-v1';

/** What the plan job asks for. */
export const GenerateInput = z.strictObject({
  app: z.string().min(1),
  concept: ResourceId,
  lesson: ResourceId,
  /** Defaults to the concept's grade. */
  grade: z.number().int().min(0).max(8).optional(),
  /** Defaults to the concept's subject. */
  subject: z.string().regex(/^[a-z][a-z0-9-]{1,39}$/).optional(),
  count: z.number().int().min(1).max(20),
  /** The child the items are for: stored with them (erasure deletes them) and never sent to a model. */
  forChildId: ResourceId,
});
export type GenerateInput = z.infer<typeof GenerateInput>;

/** Where a generated item came from, stored with it (`practice_items.generated`). */
export interface Provenance {
  adapter: LlmProvider;
  model: string;
  promptVersion: string;
  checks: string[];
  generatedAt: string;
}

/** A stored generated item as the plan job uses it: no answer key (that stays in the database). */
export interface GeneratedItemView {
  id: string;
  lessonId: string;
  conceptId: string;
  type: ItemType;
  prompt: string;
  choices?: Choice[];
  difficulty: number;
  provenance: Provenance;
}

/** Why the offline generator filled in. */
export type FallbackReason = 'llm_unavailable' | 'over_budget' | 'too_few_passed';

/** What one generation did. */
export interface GenerateResult {
  /** The stored items, at most `count` (fewer only when even the offline generator had too few for the concept). */
  items: GeneratedItemView[];
  requested: number;
  /** Items from the configured model, and from the offline generator. */
  fromModel: number;
  fromOffline: number;
  /** The model's candidates the checks dropped, by reason; a malformed output counts once. */
  rejected: Partial<Record<RejectionReason, number>>;
  /** The offline generator's candidates dropped (mostly repeats of items the child already has). */
  offlineRejected: Partial<Record<RejectionReason, number>>;
  /** Set when the offline generator filled in, and why. */
  fallback: FallbackReason | undefined;
  /** Tokens the model call used (0 offline). */
  usage: { inputTokens: number; outputTokens: number };
}

/** Grade as a prompt says it. */
const gradeName = (grade: number) => (grade === 0 ? 'kindergarten' : `grade ${grade}`);

/**
 * The prompt: curriculum text, grade and concept only. Nothing about a child
 * (no nickname, id, answers or free text) is a parameter of this function, so
 * none can reach a model; a test reads what the model server received.
 */
export function buildGenerationRequest(task: GenerationTask): GenerationRequest {
  const examples = task.examples
    .slice(0, 6)
    .map((e) => `- (${e.type}) ${e.prompt}${e.choices?.length ? ` Choices: ${e.choices.map((c) => c.text).join(' | ')}` : ''}`)
    .join('\n');
  const system = [
    'You write practice questions for a children’s learning app.',
    'Rules: one question per item; short, clear sentences a child of the given grade can read; friendly everyday topics (animals, food, toys, nature, school, sports);',
    'no violence, scary, adult, unkind or personal topics; never ask for names, addresses or other personal details; no links.',
    'Numbers must suit the grade. Every answer must be exactly right.',
    'Item types: "numeric" (answer is a plain number such as 12 or 0.5, choices empty); "multiple_choice" (exactly 4 choices with ids a, b, c, d, exactly one correct, answer is its id);',
    '"short_text" (answer is the expected word or words, alsoAccept lists other correct spellings, choices empty).',
    'Answer with JSON only: {"items": [...]} following the schema.',
  ].join('\n');
  const user = [
    `Subject: ${task.subject}. Grade: ${gradeName(task.grade)}.`,
    `Concept: ${task.conceptName}. ${task.conceptDescription}`.trim(),
    `Lesson: ${task.lessonTitle}.`,
    task.lessonText ? `What the lesson teaches:\n${task.lessonText}` : '',
    examples ? `Existing questions (write new ones, in this style, not copies):\n${examples}` : '',
    `Write ${task.count} new practice questions for this concept.`,
  ]
    .filter(Boolean)
    .join('\n\n');
  return { task, system, user, schema: CANDIDATE_OUTPUT_JSON_SCHEMA as unknown as Record<string, unknown>, schemaName: 'practice_items', maxOutputTokens: 300 + 200 * task.count };
}

/** The lesson's teaching text for the prompt: text, tips and worked examples, at most 3,000 characters. */
function lessonText(context: GenerationContext): string {
  const parts = [context.lesson.summary];
  for (const b of context.lesson.blocks) {
    if (b.type === 'text' || b.type === 'tip') parts.push(b.text);
    else if (b.type === 'example') parts.push(`Example: ${b.prompt} ${b.explanation}`);
  }
  return parts.filter(Boolean).join('\n').slice(0, 3000);
}

/** Today as the budget counts it: the UTC date. */
/**
 * Most offline candidates drawn for one request before it settles for fewer
 * items: each draw is a few microseconds, and a space where 200 draws find
 * nothing new is spent for this child (a candidate repeats an existing item
 * with probability p, so 200 draws all repeat with p^200: 10^-16 at p = 0.83,
 * adding within 5 for a new child).
 */
const OFFLINE_MAX_CANDIDATES = 200;
/** Candidates asked of the offline generator per round. */
const OFFLINE_ROUND_MIN = 10;

const utcDay = (now: Date) => now.toISOString().slice(0, 10);

/**
 * The item generator the plan job calls: asks the configured language model
 * for practice items on one concept, checks every candidate, fills up from
 * the offline generator when the model fails, is over the app's daily token
 * budget, or too few of its items pass, and stores the items that passed as
 * items of the lesson, generated for one child. It never fails because a
 * model did; it fails only for an unknown concept, lesson or child.
 */
export class ItemGenerator {
  readonly #db: Database;
  readonly #model: LanguageModel;
  readonly #offline: LanguageModel;
  readonly #metrics: LlmMetrics;
  readonly #logger: Logger;
  readonly #dailyTokenBudget: number;
  readonly #now: () => Date;

  constructor(deps: { db: Database; model: LanguageModel; offline: LanguageModel; metrics: LlmMetrics; logger: Logger; dailyTokenBudget: number; now?: () => Date }) {
    this.#db = deps.db;
    this.#model = deps.model;
    this.#offline = deps.offline;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#dailyTokenBudget = deps.dailyTokenBudget;
    this.#now = deps.now ?? (() => new Date());
  }

  /** The configured model's provider and id (for health and logs). */
  get provider(): { provider: LlmProvider; model: string } {
    return { provider: this.#model.provider, model: this.#model.model };
  }

  async generate(input: GenerateInput, options: { signal?: AbortSignal } = {}): Promise<GenerateResult> {
    const parsed = GenerateInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AppError('invalid', 'validation_failed', `Invalid generation field "${issue.path.join('.')}": ${issue.message}`);
    }
    const request = parsed.data;
    const context = await loadGenerationContext(this.#db, request.app, request.concept, request.lesson, request.forChildId);
    if (context === 'concept_not_found') throw new AppError('not_found', 'concept_not_found', `No concept "${request.concept}"`);
    if (context === 'lesson_not_found') throw new AppError('not_found', 'lesson_not_found', `No lesson "${request.lesson}" teaching concept "${request.concept}"`);
    if (!(await childExists(this.#db, request.app, request.forChildId))) throw notFoundFor('child');

    const grade = request.grade ?? context.concept.grade;
    const authored = context.items.filter((i) => !i.generated);
    const task: GenerationTask = {
      conceptId: context.concept.id,
      conceptName: context.concept.name,
      conceptDescription: context.concept.description,
      subject: request.subject ?? context.concept.subject,
      grade,
      lessonTitle: context.lesson.title,
      lessonText: lessonText(context),
      examples: authored.slice(0, 6).map((i) => ({ type: i.type, prompt: i.prompt, choices: i.choices })),
      count: request.count,
    };
    const existing: { prompt: string; choices?: readonly { text: string }[] | undefined }[] = context.items.map((i) => ({ prompt: i.prompt, choices: i.choices }));
    const difficulty = Math.max(-3, Math.min(3, -2.3 + 0.8 * grade));
    const rejectedByModel: Partial<Record<RejectionReason, number>> = {};
    const offlineRejected: Partial<Record<RejectionReason, number>> = {};
    const accepted: { item: PracticeItem; provenance: Provenance }[] = [];
    const usage = { inputTokens: 0, outputTokens: 0 };
    let fallback: FallbackReason | undefined;

    const take = (text: string, model: LanguageModel) => {
      const source = model.provider;
      const rejected = model === this.#offline ? offlineRejected : rejectedByModel;
      const output = parseModelOutput(text);
      if (!output.ok) {
        rejected.malformed_output = (rejected.malformed_output ?? 0) + 1;
        this.#metrics.rejections.inc({ source, reason: 'malformed_output' });
        return 0;
      }
      for (const raw of output.items) {
        if (accepted.length >= request.count) break;
        const result = checkCandidate(raw, { conceptId: task.conceptId, grade, existing, difficulty });
        if (!result.ok) {
          rejected[result.reason] = (rejected[result.reason] ?? 0) + 1;
          this.#metrics.rejections.inc({ source, reason: result.reason });
          continue;
        }
        existing.push({ prompt: result.item.prompt, choices: result.item.choices });
        accepted.push({
          item: { ...result.item, id: `gen-${randomUUID()}` },
          provenance: { adapter: model.provider, model: model.model, promptVersion: PROMPT_VERSION, checks: result.checks, generatedAt: this.#now().toISOString() },
        });
        this.#metrics.accepted.inc({ source });
      }
      return output.items.length;
    };

    const llmRequest = buildGenerationRequest(task);
    if (this.#model.provider !== 'offline') {
      const day = utcDay(this.#now());
      const used = await tokensUsed(this.#db, request.app, day);
      if (used >= this.#dailyTokenBudget) {
        fallback = 'over_budget';
        this.#metrics.calls.inc({ provider: this.#model.provider, outcome: 'over_budget' });
      } else {
        const started = performance.now();
        try {
          const response = await this.#model.generate(llmRequest, options);
          usage.inputTokens = response.usage.inputTokens;
          usage.outputTokens = response.usage.outputTokens;
          this.#metrics.calls.inc({ provider: this.#model.provider, outcome: 'ok' });
          this.#metrics.tokens.inc({ provider: this.#model.provider, kind: 'input' }, usage.inputTokens);
          this.#metrics.tokens.inc({ provider: this.#model.provider, kind: 'output' }, usage.outputTokens);
          await recordUsage(this.#db, request.app, day, usage);
          take(response.text, this.#model);
          if (accepted.length < request.count) fallback = 'too_few_passed';
        } catch (error) {
          if (options.signal?.aborted || !isLlmUnavailable(error)) throw error;
          fallback = 'llm_unavailable';
          this.#metrics.calls.inc({ provider: this.#model.provider, outcome: 'error' });
          this.#logger.warn({ app: request.app, concept: request.concept, provider: this.#model.provider, reason: (error.details as { reason?: string } | undefined)?.reason }, 'language model unavailable; offline items instead');
        } finally {
          this.#metrics.latency.observe({ provider: this.#model.provider }, (performance.now() - started) / 1000);
        }
      }
    }
    const fromModel = accepted.length;
    if (accepted.length < request.count) {
      if (fallback) this.#metrics.fallbacks.inc({ reason: fallback });
      // The offline generator draws at random from a concept's question space, which for small
      // concepts (adding within 5) is mostly taken by the authored items and the child's earlier
      // fresh ones: draw again until enough pass the checks, the space looks spent, or the caller gives up.
      let drawn = 0;
      while (accepted.length < request.count && drawn < OFFLINE_MAX_CANDIDATES) {
        options.signal?.throwIfAborted();
        const need = request.count - accepted.length;
        const response = await this.#offline.generate({ ...llmRequest, task: { ...task, count: Math.max(OFFLINE_ROUND_MIN, need * 3) } }, options);
        const candidates = take(response.text, this.#offline);
        if (candidates === 0) break;
        drawn += candidates;
      }
    }

    await insertGeneratedItems(
      this.#db,
      request.app,
      accepted.map((a) => ({ item: a.item, lessonId: context.lesson.id, provenance: { ...a.provenance }, forChildId: request.forChildId })),
    );
    return {
      items: accepted.map(({ item, provenance }) => {
        const view: GeneratedItemView = { id: item.id, lessonId: context.lesson.id, conceptId: item.conceptId, type: item.type, prompt: item.prompt, difficulty: item.difficulty, provenance };
        if (item.choices) view.choices = item.choices;
        return view;
      }),
      requested: request.count,
      fromModel,
      fromOffline: accepted.length - fromModel,
      rejected: rejectedByModel,
      offlineRejected,
      fallback,
      usage,
    };
  }
}
