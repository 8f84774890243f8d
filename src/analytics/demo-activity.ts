import { seededRandom } from '../domain/seeded-random.ts';

/**
 * Simulated activity for `kidslearn lake demo`: a cohort of learners using
 * an app over some days, as a plan of sessions in time order. Pure and
 * deterministic for a seed; `demo-runner.ts` sends it through the real API
 * (events, answers, lesson completions), so the lake, the reports and the
 * dashboard show what real use would produce.
 *
 * The model, kept simple but with the shapes real data has: learners join
 * over the period (adoption), are more active on school days, differ in
 * ability and engagement; each works through the catalogue in teaching
 * order, answering with a probability of success that rises with practice
 * on the concept (a logistic learning curve) and falls with item difficulty;
 * a lesson passed (score ≥ 0.7) moves the learner on, some sessions end
 * before the lesson is complete (the funnel's drop-off), hints follow
 * wrong answers, and a few sessions hit an app error.
 */

export interface DemoItem {
  id: string;
  conceptId: string;
  /** Logit scale, -3 easy … +3 hard. */
  difficulty: number;
}

export interface DemoLesson {
  id: string;
  items: readonly DemoItem[];
}

export interface DemoLearner {
  index: number;
  nickname: string;
  grade: number;
  /** Logit ability. */
  ability: number;
  /** Chance of being active on a school day. */
  engagement: number;
  platform: 'ios' | 'android' | 'web';
  deviceClass: 'phone' | 'tablet' | 'desktop';
  /** The family turned product analytics on for this child (about two in three do). */
  productAnalytics: boolean;
  /** Index of the first day the learner uses the app. */
  joinDay: number;
}

export type DemoStep =
  | { kind: 'event'; eventId: string; type: string; occurredAt: Date; properties: Record<string, unknown> }
  | { kind: 'answer'; clientEventId: string; itemId: string; correct: boolean; durationMs: number; answeredAt: Date }
  | { kind: 'complete'; clientEventId: string; lessonId: string; secondsSpent: number; score: number; completedAt: Date };

export interface DemoSession {
  learner: number;
  sessionId: string;
  startedAt: Date;
  steps: DemoStep[];
}

export interface DemoPlan {
  learners: DemoLearner[];
  sessions: DemoSession[];
}

export interface DemoOptions {
  seed: number;
  learners: number;
  days: number;
  /** The simulation ends here (no event after it); the last day is the day of `now`. */
  now: Date;
  /** Published lessons in teaching order, with their items. */
  lessons: readonly DemoLesson[];
  appVersion?: string;
}

const NICKNAMES = ['Ada', 'Ben', 'Cleo', 'Dev', 'Ema', 'Finn', 'Gia', 'Hugo', 'Iris', 'Jon', 'Kai', 'Lena', 'Milo', 'Nia', 'Omar', 'Pia', 'Quinn', 'Rosa', 'Sami', 'Tara', 'Uma', 'Vik', 'Wren', 'Yara', 'Zed'];
const ERRORS = [
  { code: 'network_timeout', fatal: false, weight: 5 },
  { code: 'audio_load_failed', fatal: false, weight: 3 },
  { code: 'sync_conflict', fatal: false, weight: 2 },
  { code: 'render_crash', fatal: true, weight: 1 },
] as const;
const DAY_MS = 86_400_000;

export function planDemoActivity(options: DemoOptions): DemoPlan {
  if (options.lessons.length === 0 || options.lessons.every((l) => l.items.length === 0)) throw new Error('the app has no published lessons with items to practise');
  const random = seededRandom(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
    hex[12] = '4';
    hex[16] = '89ab'[Math.floor(random() * 4)]!;
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const lessons = options.lessons.filter((l) => l.items.length > 0);
  const firstDay = Date.UTC(options.now.getUTCFullYear(), options.now.getUTCMonth(), options.now.getUTCDate()) - (options.days - 1) * DAY_MS;

  const learners: DemoLearner[] = Array.from({ length: options.learners }, (_, index) => ({
    index,
    nickname: `${NICKNAMES[index % NICKNAMES.length]} ${Math.floor(index / NICKNAMES.length) + 1}`,
    grade: Math.min(2, Math.floor(random() * 3)),
    ability: normal() * 0.8,
    engagement: 0.35 + random() * 0.55,
    platform: pick(['ios', 'ios', 'android', 'android', 'web'] as const),
    deviceClass: pick(['tablet', 'tablet', 'phone', 'desktop'] as const),
    productAnalytics: random() < 0.67,
    // A third start on day one; the rest join over the period.
    joinDay: random() < 0.35 ? 0 : Math.floor(random() * options.days * 0.8),
  }));

  const sessions: DemoSession[] = [];
  const state = learners.map(() => ({ lesson: 0, practice: new Map<string, number>() }));
  for (let day = 0; day < options.days; day++) {
    const dayStart = firstDay + day * DAY_MS;
    const weekday = new Date(dayStart).getUTCDay();
    const schoolDay = weekday !== 0 && weekday !== 6;
    for (const learner of learners) {
      if (day < learner.joinDay) continue;
      const chance = learner.engagement * (schoolDay ? 1 : 0.45);
      if (random() >= chance) continue;
      const count = random() < 0.25 ? 2 : 1;
      for (let s = 0; s < count; s++) {
        // Afternoons and evenings, UTC.
        const startedAt = new Date(dayStart + (14 + s * 3 + random() * 3) * 3_600_000 + Math.floor(random() * 3_600_000));
        if (startedAt.getTime() > options.now.getTime() - 3_600_000) continue;
        sessions.push(simulateSession(learner, state[learner.index]!, startedAt));
      }
    }
  }
  sessions.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.learner - b.learner);
  return { learners, sessions };

  function simulateSession(learner: DemoLearner, st: { lesson: number; practice: Map<string, number> }, startedAt: Date): DemoSession {
    const sessionId = uuid();
    const steps: DemoStep[] = [];
    let t = startedAt.getTime();
    const at = (advanceMs: number) => new Date((t += advanceMs));
    const event = (type: string, properties: Record<string, unknown>, advanceMs = 1000) => steps.push({ kind: 'event', eventId: uuid(), type, occurredAt: at(advanceMs), properties });
    event('session_start', { platform: learner.platform, appVersion: options.appVersion ?? '2.4.1', deviceClass: learner.deviceClass, locale: 'en-GB' }, 0);
    event('screen_view', { screen: 'home' });
    const lesson = lessons[st.lesson % lessons.length]!;
    event('screen_view', { screen: 'lesson', previousScreen: 'home' }, 2000 + random() * 4000);
    event('lesson_start', { lessonId: lesson.id });
    // One in six sessions ends early: the child leaves before the lesson is done.
    const leavesAfter = random() < 1 / 6 ? Math.max(1, Math.floor(random() * lesson.items.length)) : lesson.items.length;
    let correctCount = 0;
    let answered = 0;
    for (const [position, item] of lesson.items.slice(0, leavesAfter).entries()) {
      event('item_shown', { itemId: item.id, lessonId: lesson.id, position }, 800);
      const practice = st.practice.get(item.conceptId) ?? 0;
      const p = 1 / (1 + Math.exp(-(learner.ability + 0.45 * practice - item.difficulty - 0.3)));
      const correct = random() < p;
      const durationMs = Math.round(2500 + random() * 9000 + (correct ? 0 : 3000));
      if (!correct && random() < 0.35) event('hint_used', { itemId: item.id, lessonId: lesson.id, hintLevel: 1 + Math.floor(random() * 2) }, 1500);
      steps.push({ kind: 'answer', clientEventId: uuid(), itemId: item.id, correct, durationMs, answeredAt: at(durationMs) });
      st.practice.set(item.conceptId, practice + 1);
      answered++;
      if (correct) correctCount++;
    }
    if (random() < 0.04) {
      const total = ERRORS.reduce((n, e) => n + e.weight, 0);
      let r = random() * total;
      const error = ERRORS.find((e) => (r -= e.weight) < 0) ?? ERRORS[0];
      event('app_error', { code: error.code, screen: 'lesson', fatal: error.fatal }, 500);
    }
    if (answered === lesson.items.length) {
      const score = Math.round((correctCount / answered) * 100) / 100;
      const secondsSpent = Math.max(1, Math.round((t - startedAt.getTime()) / 1000));
      event('lesson_complete', { lessonId: lesson.id, durationSeconds: secondsSpent, score }, 500);
      steps.push({ kind: 'complete', clientEventId: uuid(), lessonId: lesson.id, secondsSpent, score, completedAt: at(100) });
      if (score >= 0.7) st.lesson++;
    }
    event('screen_view', { screen: 'home', previousScreen: 'lesson' });
    const durationSeconds = Math.max(1, Math.round((t + 2000 - startedAt.getTime()) / 1000));
    event('session_end', { durationSeconds, screens: 3 }, 2000);
    return { learner: learner.index, sessionId, startedAt, steps };
  }
}
