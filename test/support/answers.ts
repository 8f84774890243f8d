/** One answer as `POST /api/progress` takes it. */
export interface AnswerBody {
  childId: string;
  itemId: string;
  response: unknown;
  durationMs: number;
  answeredAt: string;
  clientEventId: string;
  [field: string]: unknown;
}

/**
 * Makes `POST /api/progress` answer bodies for one test suite: the fixture
 * app's first item answered right, a minute ago, each with its own
 * `clientEventId` (`<prefix>-<n>`) and a time 10 ms after the previous one,
 * so answers keep their order. `childId` is read at call time (suites set it
 * in `before`).
 */
export function answerMaker(prefix: string, childId: () => string): (overrides?: Record<string, unknown>) => AnswerBody {
  let n = 0;
  return (overrides = {}) => {
    n++;
    const body: AnswerBody = {
      childId: childId(),
      itemId: 'alpha-only-q1',
      response: 5,
      durationMs: 6000,
      answeredAt: new Date(Date.now() - 60_000 + n * 10).toISOString(),
      clientEventId: `${prefix}-${n}`,
      ...overrides,
    };
    return body;
  };
}
