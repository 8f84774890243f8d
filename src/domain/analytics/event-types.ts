import { z } from '@hono/zod-openapi';
import { safeId } from '../input-rules.ts';

/**
 * The analytics event allowlist: one strict schema per type, so only what is
 * named here can reach the lake. No property holds names, e-mail addresses
 * or free text: ids are slugs, codes are short tokens, everything else is a
 * number, a boolean or a value from a fixed list. An unknown property is
 * refused (400 naming it), never passed through.
 */

/** Screen and error identifiers chosen by app developers: short tokens, never sentences. */
const token = (what: string) =>
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/, `must be a ${what}: 1–64 chars of letters, digits, "_", ".", ":", "/" or "-"`);

const seconds = z.number().int().min(0).max(86_400);
const fraction = z.number().min(0).max(1);

/** Events an app sends about what happens on the device (`POST /api/events`). */
export const CLIENT_EVENT_PROPERTIES = {
  session_start: z
    .object({
      platform: z.enum(['ios', 'android', 'web']),
      appVersion: z.string().regex(/^\d{1,4}(\.\d{1,4}){0,3}([-+][A-Za-z0-9.]{1,20})?$/, 'must be a version such as 2.4.1'),
      deviceClass: z.enum(['phone', 'tablet', 'desktop']).optional(),
      locale: z.string().regex(/^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2}|-\d{3})?$/, 'must be a language tag such as en-GB').optional(),
    })
    .strict(),
  session_end: z.object({ durationSeconds: seconds, screens: z.number().int().min(0).max(10_000).optional() }).strict(),
  screen_view: z.object({ screen: token('screen id'), previousScreen: token('screen id').optional() }).strict(),
  app_error: z.object({ code: token('error code'), screen: token('screen id').optional(), fatal: z.boolean() }).strict(),
  lesson_start: z.object({ lessonId: safeId }).strict(),
  lesson_complete: z.object({ lessonId: safeId, durationSeconds: seconds, score: fraction.optional() }).strict(),
  item_shown: z.object({ itemId: safeId, lessonId: safeId.optional(), position: z.number().int().min(0).max(1000).optional() }).strict(),
  hint_used: z.object({ itemId: safeId, lessonId: safeId.optional(), hintLevel: z.number().int().min(1).max(5) }).strict(),
} as const;

/** Events the server writes itself, in the same transaction as the record they describe. */
export const SERVER_EVENT_PROPERTIES = {
  answer_recorded: z
    .object({ itemId: safeId, lessonId: safeId, conceptId: safeId, correct: z.boolean(), durationMs: z.number().int().min(0), mastery: fraction })
    .strict(),
  lesson_recorded: z.object({ lessonId: safeId, secondsSpent: seconds, score: fraction.optional() }).strict(),
  plan_requested: z.object({ planId: safeId, minutes: z.number().int().min(1).max(600) }).strict(),
  plan_ready: z.object({ planId: safeId, activities: z.number().int().min(0).max(1000), minutes: z.number().min(0).max(600) }).strict(),
  plan_failed: z.object({ planId: safeId, code: token('error code') }).strict(),
} as const;

export type ClientEventType = keyof typeof CLIENT_EVENT_PROPERTIES;
export type ServerEventType = keyof typeof SERVER_EVENT_PROPERTIES;
export type EventType = ClientEventType | ServerEventType;

export const CLIENT_EVENT_TYPES = Object.keys(CLIENT_EVENT_PROPERTIES) as ClientEventType[];
export const SERVER_EVENT_TYPES = Object.keys(SERVER_EVENT_PROPERTIES) as ServerEventType[];

/**
 * `usage`: device and usage events about a child (sessions, screens,
 * errors), kept only when the child's `productAnalytics` setting is on (or
 * when the event names no child). `learning`: what the child did in a lesson,
 * always kept, like the answers and completions the API records.
 */
export type EventCategory = 'usage' | 'learning';

export const EVENT_CATEGORY: Readonly<Record<EventType, EventCategory>> = {
  session_start: 'usage',
  session_end: 'usage',
  screen_view: 'usage',
  app_error: 'usage',
  lesson_start: 'learning',
  lesson_complete: 'learning',
  item_shown: 'learning',
  hint_used: 'learning',
  answer_recorded: 'learning',
  lesson_recorded: 'learning',
  plan_requested: 'learning',
  plan_ready: 'learning',
  plan_failed: 'learning',
};

export type ClientEventProperties<T extends ClientEventType> = z.infer<(typeof CLIENT_EVENT_PROPERTIES)[T]>;
export type ServerEventProperties<T extends ServerEventType> = z.infer<(typeof SERVER_EVENT_PROPERTIES)[T]>;

/** An event as stored in the outbox and written to the lake (no child id: `learner` is the pseudonymous key). */
export interface LakeEvent {
  eventId: string;
  app: string;
  type: EventType;
  source: 'app' | 'server';
  occurredAt: Date;
  receivedAt: Date;
  learner: string | null;
  sessionId: string | null;
  properties: Record<string, unknown>;
}
