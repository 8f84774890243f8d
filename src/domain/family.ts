import { z } from '@hono/zod-openapi';
import { Grade, ResourceId } from './curriculum.ts';
import { safeName } from './input-rules.ts';

/**
 * Families and classrooms. A child profile holds the minimum an app needs to
 * teach: a nickname, a grade, an avatar, optionally a birth year, and
 * settings. There is deliberately no field for an email, phone number, full
 * name or location, and bodies are strict, so none can be sent.
 */

/** Avatars are picked from the app's own set; only its key is stored. */
export const Avatar = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be an avatar key such as "fox" or "robot-2"')
  .openapi({ example: 'fox' });

const currentYear = () => new Date().getUTCFullYear();

/**
 * Per-child privacy settings. New profiles start with every option off, the
 * most private choice (UK Children's Code: high privacy by default).
 */
export const ChildSettings = z
  .object({
    /** Show the child's nickname and scores on leaderboards. */
    leaderboard: z.boolean(),
    /** Let the app send product-usage analytics about this child (learning progress is always kept). */
    productAnalytics: z.boolean(),
    /** Let teachers of the child's classrooms see the nickname of classmates beside the child's. */
    visibleToClassmates: z.boolean(),
  })
  .strict()
  .openapi('ChildSettings');
export type ChildSettings = z.infer<typeof ChildSettings>;

/** The settings every new child profile starts with. */
export const MOST_PRIVATE_SETTINGS: ChildSettings = Object.freeze({ leaderboard: false, productAnalytics: false, visibleToClassmates: false });

/** A child's nickname: a name by the shared rules (no invisible characters; see input-rules). */
export const Nickname = safeName(40).openapi({ example: 'Sam' });
export const BirthYear = z
  .number()
  .int()
  .refine((y) => y >= currentYear() - 19 && y <= currentYear(), 'must be a year within the last 19 years')
  .openapi({ example: 2018 });

export const NewChildInput = z
  .object({
    nickname: Nickname,
    grade: Grade,
    avatar: Avatar.optional(),
    birthYear: BirthYear.optional(),
  })
  .strict()
  .openapi('NewChild');
export type NewChildInput = z.infer<typeof NewChildInput>;

export const ChildPatch = z
  .object({
    nickname: Nickname.optional(),
    grade: Grade.optional(),
    avatar: Avatar.optional(),
    birthYear: BirthYear.nullable().optional(),
    settings: ChildSettings.partial().strict().optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'must change at least one field')
  .openapi('ChildPatch');
export type ChildPatch = z.infer<typeof ChildPatch>;

export const Child = z
  .object({
    id: ResourceId,
    nickname: Nickname,
    grade: Grade,
    avatar: Avatar,
    birthYear: z.number().int().nullable(),
    settings: ChildSettings,
    pinSet: z.boolean(),
    pinLocked: z.boolean(),
    createdAt: z.string(),
  })
  .openapi('Child');
export type Child = z.infer<typeof Child>;

/** What a teacher sees of a child in their classroom. */
export const ClassroomChild = z.object({ id: ResourceId, nickname: Nickname, grade: Grade, avatar: Avatar }).openapi('ClassroomChild');
export type ClassroomChild = z.infer<typeof ClassroomChild>;

/** A PIN is 4–6 digits. */
export const Pin = z.string().regex(/^\d{4,6}$/, 'must be 4 to 6 digits').openapi({ example: '4821' });

export const NewClassroomInput = z
  .object({ name: safeName(80).openapi({ example: 'Room 3 — Maths' }), grade: Grade.optional() })
  .strict()
  .openapi('NewClassroom');
export type NewClassroomInput = z.infer<typeof NewClassroomInput>;

export const Classroom = z
  .object({ id: ResourceId, name: z.string(), grade: Grade.nullable(), createdAt: z.string() })
  .openapi('Classroom');
export type Classroom = z.infer<typeof Classroom>;

/** Join codes: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L). */
export const JOIN_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const JoinCode = z
  .string()
  .transform((v) => v.trim().toUpperCase().replace(/[\s-]/g, ''))
  .pipe(z.string().regex(new RegExp(`^[${JOIN_CODE_ALPHABET}]{8}$`), 'must be an 8-character join code'))
  .openapi({ example: 'K7MP-3QXD', type: 'string' });
