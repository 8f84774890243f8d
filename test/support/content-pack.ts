import { CONTENT_PACK_FORMAT, type ContentPackInput } from '../../src/domain/content-pack.ts';

/**
 * A small hand-written pack for tests: three concepts (counting → adding,
 * and reading), two units, four lessons in teaching order, items of every
 * type. Returned fresh each call so tests can change it freely.
 */
export function testPack(id = 'tiny'): ContentPackInput & { units: NonNullable<ContentPackInput['units']> } {
  return {
    format: CONTENT_PACK_FORMAT,
    pack: { id, version: '1.0.0', title: 'Tiny pack', language: 'en', license: 'CC-BY-4.0', authors: [{ name: 'Test Author' }] },
    concepts: [
      { id: `${id}-counting`, subject: 'math', grade: 0, name: 'Counting', description: 'Count things up to 10.' },
      { id: `${id}-adding`, subject: 'math', grade: 1, name: 'Adding', description: 'Put two groups together.', prerequisites: [`${id}-counting`] },
      { id: `${id}-reading`, subject: 'reading', grade: 1, name: 'Reading', description: 'Read short words.' },
    ],
    units: [
      {
        id: `${id}-numbers`,
        title: 'Numbers',
        lessons: [
          {
            id: `${id}-count`,
            subject: 'math',
            grade: 0,
            title: 'Count to five',
            summary: 'Count objects.',
            conceptIds: [`${id}-counting`],
            blocks: [{ type: 'text', text: 'Point at each thing and say the next number.' }],
            media: [{ id: 'apples', kind: 'image', url: 'https://example.org/apples.png', alt: 'Three apples' }],
            estimatedMinutes: 5,
            items: [
              { id: `${id}-count-1`, type: 'numeric', prompt: 'How many apples are in the picture?', answer: { type: 'numeric', value: 3 }, difficulty: -1, mediaId: 'apples' },
              {
                id: `${id}-count-2`,
                type: 'multiple_choice',
                prompt: 'Which number comes after 4?',
                choices: [
                  { id: 'a', text: '3' },
                  { id: 'b', text: '5' },
                  { id: 'c', text: '6' },
                ],
                answer: { type: 'multiple_choice', choiceId: 'b' },
                difficulty: -0.5,
              },
            ],
          },
          {
            id: `${id}-add`,
            subject: 'math',
            grade: 1,
            title: 'Add small numbers',
            conceptIds: [`${id}-adding`],
            estimatedMinutes: 6,
            items: [
              { id: `${id}-add-1`, type: 'numeric', prompt: 'What is 2 + 3?', answer: { type: 'numeric', value: 5 }, difficulty: 0 },
              { id: `${id}-add-2`, type: 'numeric', prompt: 'What is 4 + 4?', answer: { type: 'numeric', value: 8 }, difficulty: 0.4 },
            ],
          },
        ],
      },
      {
        id: `${id}-words`,
        title: 'Words',
        lessons: [
          {
            id: `${id}-read`,
            subject: 'reading',
            grade: 1,
            title: 'Read short words',
            conceptIds: [`${id}-reading`],
            estimatedMinutes: 4,
            items: [
              { id: `${id}-read-1`, type: 'short_text', prompt: 'Spell the number 2 in letters.', answer: { type: 'short_text', accepted: ['two'] }, difficulty: 0.5 },
            ],
          },
          {
            id: `${id}-add-more`,
            subject: 'math',
            grade: 1,
            title: 'More adding',
            conceptIds: [`${id}-adding`, `${id}-counting`],
            estimatedMinutes: 5,
            items: [{ id: `${id}-more-1`, conceptId: `${id}-adding`, type: 'numeric', prompt: 'What is 6 + 1?', answer: { type: 'numeric', value: 7 }, difficulty: 0.2 }],
          },
        ],
      },
    ],
  };
}
