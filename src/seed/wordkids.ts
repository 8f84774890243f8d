import type { CurriculumPack } from './pack.ts';
import type { ConceptSpec, Rng } from './generator.ts';
import { buildLesson, ensure, introPlan, num, practicePlan, toConcept, txt } from './generator.ts';

/**
 * "Word Kids" demo curriculum: early reading and vocabulary, K–3.
 * 15 concepts with an introduction and a practice lesson each (30 lessons).
 * Items come from the embedded word lists below; each one is checked with
 * an independent rule (spelling rules, syllable heuristics, sorting, …)
 * before it is emitted.
 */

const SUBJECT = 'reading';
const SEED_KEY = 'wordkids-v1';

type Spec = Omit<ConceptSpec, 'subject'>;
const spec = (s: Spec): ConceptSpec => ({ subject: SUBJECT, ...s });

/** Logit difficulty for reading items: grade (0–3) plus a template adjustment. */
function wdiff(grade: number, adjust = 0): number {
  return -2.3 + 0.8 * grade + adjust;
}

const q = (w: string) => `"${w}"`;

/** Regular English plural (also the -s form of a verb): -es after s/x/z/ch/sh, consonant + y → -ies, else -s. */
export function regularPlural(word: string): string {
  if (/(s|x|z|ch|sh)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

/**
 * Rough syllable count from vowel groups (y counts as a vowel, a final
 * silent e does not unless the word ends in consonant + "le"). Used only to
 * double-check the hand-written syllable splits below.
 */
export function estimateSyllables(word: string): number {
  const w = word.toLowerCase();
  let n = w.match(/[aeiouy]+/g)?.length ?? 0;
  if (n > 1 && w.endsWith('e') && !/[^aeiou]le$/.test(w)) n--;
  return n;
}

/** True when the letters of `short` appear in order inside `long` (ignoring spaces, apostrophes and case). */
function isSubsequence(short: string, long: string): boolean {
  const s = short.toLowerCase().replace(/['’ ]/g, '');
  const l = long.toLowerCase().replace(/ /g, '');
  let i = 0;
  for (const ch of l) if (ch === s[i]) i++;
  return i === s.length;
}

/** The letters of `long` that are left out of `short` (for "the apostrophe replaces …"). */
function droppedLetters(short: string, long: string): string {
  const s = short.toLowerCase().replace(/['’]/g, '');
  let i = 0;
  let dropped = '';
  for (const ch of long.toLowerCase().replace(/ /g, '')) {
    if (ch === s[i]) i++;
    else dropped += ch;
  }
  return dropped;
}

// ---------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------

/** Words grouped by a first letter that always makes the same sound in them. */
const FIRST_SOUNDS: Readonly<Record<string, readonly string[]>> = {
  b: ['ball', 'bat', 'bed', 'bus', 'bear', 'book'],
  d: ['dog', 'duck', 'door', 'dig', 'desk'],
  f: ['fish', 'fan', 'fox', 'feet', 'fork'],
  m: ['moon', 'mop', 'milk', 'mouse', 'map'],
  s: ['sun', 'sock', 'seal', 'sand', 'six'],
  t: ['top', 'tent', 'tiger', 'toy', 'ten'],
  p: ['pig', 'pen', 'pan', 'pie', 'pot'],
  l: ['lion', 'leaf', 'lamp', 'log', 'lemon'],
  n: ['nest', 'nose', 'net', 'nut', 'nine'],
  r: ['rain', 'rug', 'ring', 'rabbit', 'red'],
  h: ['hat', 'hen', 'horse', 'hill', 'house'],
  w: ['web', 'wagon', 'window', 'worm', 'wing'],
};

interface SightWord {
  word: string;
  sentence: string;
  misspellings: readonly [string, string, string];
}

const SIGHT_WORDS: readonly SightWord[] = [
  { word: 'the', sentence: 'I see ___ dog.', misspellings: ['teh', 'th', 'hte'] },
  { word: 'said', sentence: 'Mom ___ it is time for bed.', misspellings: ['sed', 'siad', 'sayd'] },
  { word: 'they', sentence: 'Are ___ coming to the park?', misspellings: ['thay', 'tehy', 'thei'] },
  { word: 'was', sentence: 'The cake ___ yummy.', misspellings: ['wuz', 'whas', 'wos'] },
  { word: 'have', sentence: 'I ___ a red ball.', misspellings: ['hav', 'haev', 'hafe'] },
  { word: 'what', sentence: 'Do you know ___ time it is?', misspellings: ['wat', 'whut', 'waht'] },
  { word: 'where', sentence: 'I know ___ the ball is.', misspellings: ['wher', 'whare', 'wehre'] },
  { word: 'come', sentence: 'Can you ___ to my party?', misspellings: ['cum', 'kome', 'kum'] },
  { word: 'look', sentence: 'Please ___ at the bird.', misspellings: ['luk', 'lok', 'loock'] },
  { word: 'there', sentence: 'The park is over ___.', misspellings: ['thare', 'ther', 'thier'] },
  { word: 'friend', sentence: 'My best ___ is Sam.', misspellings: ['freind', 'frend', 'frind'] },
  { word: 'because', sentence: 'I smiled ___ I was happy.', misspellings: ['becuz', 'becase', 'becaus'] },
  { word: 'again', sentence: 'Let’s play that game ___!', misspellings: ['agen', 'agian', 'agin'] },
  { word: 'people', sentence: 'Many ___ came to the show.', misspellings: ['peeple', 'pepole', 'peple'] },
  { word: 'could', sentence: 'I ___ not find my shoe.', misspellings: ['coud', 'culd', 'cood'] },
  { word: 'many', sentence: 'How ___ apples do you have?', misspellings: ['meny', 'mani', 'manny'] },
];

/** Rhyme families: every word ends with the family's rime. */
const RHYMES: readonly { rime: string; words: readonly string[] }[] = [
  { rime: 'at', words: ['cat', 'hat', 'bat', 'mat', 'rat'] },
  { rime: 'og', words: ['dog', 'log', 'frog', 'hog'] },
  { rime: 'un', words: ['sun', 'run', 'fun', 'bun'] },
  { rime: 'ig', words: ['pig', 'big', 'wig', 'dig'] },
  { rime: 'ake', words: ['cake', 'lake', 'snake', 'rake'] },
  { rime: 'ing', words: ['ring', 'king', 'sing', 'wing'] },
  { rime: 'ell', words: ['bell', 'shell', 'well', 'smell'] },
  { rime: 'op', words: ['mop', 'top', 'hop', 'shop'] },
  { rime: 'ed', words: ['bed', 'red', 'sled', 'fed'] },
  { rime: 'ain', words: ['rain', 'train', 'chain', 'brain'] },
  { rime: 'ight', words: ['light', 'night', 'bright', 'right'] },
  { rime: 'ock', words: ['sock', 'rock', 'clock', 'block'] },
];

/** Hand-split syllables (checked against `estimateSyllables`). */
const SYLLABLES: readonly string[] = [
  'cat', 'dog', 'fish', 'tree', 'jump', 'sun', 'frog', 'cake', 'bike',
  'ap-ple', 'ta-ble', 'pen-cil', 'rab-bit', 'tur-tle', 'mon-key', 'pump-kin', 'win-dow', 'ti-ger', 'ba-by',
  'ze-bra', 'pic-nic', 'kit-ten', 'spi-der', 'lem-on', 'rock-et', 'bas-ket',
  'ba-na-na', 'el-e-phant', 'di-no-saur', 'but-ter-fly', 'um-brel-la', 'com-pu-ter', 'kan-ga-roo', 'oc-to-pus',
  'to-ma-to', 'po-ta-to', 'straw-ber-ry', 'ham-bur-ger', 'croc-o-dile',
  'al-li-ga-tor', 'wa-ter-mel-on', 'cat-er-pil-lar', 'hel-i-cop-ter',
  'hip-po-pot-a-mus',
];

const ABC_WORDS: readonly string[] = [
  'apple', 'bird', 'cat', 'dog', 'egg', 'fish', 'goat', 'hat', 'igloo', 'jam', 'kite', 'lamp', 'moon',
  'nest', 'owl', 'pig', 'queen', 'rose', 'sun', 'train', 'umbrella', 'van', 'web', 'yarn', 'zoo',
];
/** Same first letter, different second letters: for ABC order by the second letter. */
const ABC_GROUPS: readonly (readonly string[])[] = [
  ['bat', 'bed', 'big', 'box', 'bus'],
  ['sad', 'see', 'sit', 'sock', 'sun'],
  ['tag', 'ten', 'tip', 'top', 'tub'],
  ['map', 'men', 'milk', 'mop', 'mud'],
  ['pan', 'pet', 'pig', 'pot', 'pup'],
];

const DIGRAPHS = ['sh', 'ch', 'th', 'wh'] as const;
const DIGRAPH_START: Readonly<Record<string, readonly string[]>> = {
  sh: ['ship', 'shoe', 'shell', 'shark', 'sheep', 'shop'],
  ch: ['chair', 'cheese', 'chin', 'chick', 'chip', 'cherry'],
  th: ['thumb', 'think', 'three', 'thorn', 'thick'],
  wh: ['whale', 'wheel', 'white', 'whistle', 'whisper'],
};
const DIGRAPH_END: Readonly<Record<string, readonly string[]>> = {
  sh: ['fish', 'dish', 'brush', 'wish'],
  ch: ['lunch', 'bench', 'peach', 'beach'],
  th: ['bath', 'math', 'tooth', 'moth'],
};

/** Regular plurals, written out by hand (and checked against `regularPlural`). */
const PLURALS: readonly (readonly [string, string])[] = [
  ['cat', 'cats'], ['dog', 'dogs'], ['book', 'books'], ['tree', 'trees'], ['cup', 'cups'], ['bird', 'birds'],
  ['box', 'boxes'], ['fox', 'foxes'], ['peach', 'peaches'], ['dish', 'dishes'], ['brush', 'brushes'], ['lunch', 'lunches'],
  ['bench', 'benches'], ['wish', 'wishes'], ['glass', 'glasses'], ['dress', 'dresses'], ['baby', 'babies'],
  ['puppy', 'puppies'], ['berry', 'berries'], ['city', 'cities'], ['pony', 'ponies'], ['toy', 'toys'],
  ['day', 'days'], ['key', 'keys'], ['boy', 'boys'],
];

interface Irregular {
  one: string;
  many: string;
  wrong: readonly [string, string, string];
  kind: 'change' | 'same' | 'f';
}
const IRREGULAR: readonly Irregular[] = [
  { one: 'child', many: 'children', wrong: ['childs', 'childrens', 'childes'], kind: 'change' },
  { one: 'mouse', many: 'mice', wrong: ['mouses', 'mices', 'meese'], kind: 'change' },
  { one: 'foot', many: 'feet', wrong: ['foots', 'feets', 'footes'], kind: 'change' },
  { one: 'tooth', many: 'teeth', wrong: ['tooths', 'teeths', 'toothes'], kind: 'change' },
  { one: 'man', many: 'men', wrong: ['mans', 'mens', 'mannes'], kind: 'change' },
  { one: 'woman', many: 'women', wrong: ['womans', 'womens', 'womanes'], kind: 'change' },
  { one: 'goose', many: 'geese', wrong: ['gooses', 'geeses', 'goosies'], kind: 'change' },
  { one: 'ox', many: 'oxen', wrong: ['oxes', 'oxs', 'oxens'], kind: 'change' },
  { one: 'sheep', many: 'sheep', wrong: ['sheeps', 'sheepes', 'sheepies'], kind: 'same' },
  { one: 'deer', many: 'deer', wrong: ['deers', 'deeres', 'deeren'], kind: 'same' },
  { one: 'leaf', many: 'leaves', wrong: ['leafs', 'leafes', 'leaveses'], kind: 'f' },
  { one: 'wolf', many: 'wolves', wrong: ['wolfs', 'wolfes', 'wolveses'], kind: 'f' },
  { one: 'knife', many: 'knives', wrong: ['knifes', 'knifs', 'knivs'], kind: 'f' },
  { one: 'half', many: 'halves', wrong: ['halfs', 'halfes', 'halvs'], kind: 'f' },
  { one: 'loaf', many: 'loaves', wrong: ['loafs', 'loafes', 'loavs'], kind: 'f' },
];

const COMPOUNDS: readonly (readonly [string, string])[] = [
  ['sun', 'flower'], ['rain', 'bow'], ['foot', 'ball'], ['cup', 'cake'], ['star', 'fish'], ['snow', 'man'],
  ['bed', 'room'], ['butter', 'fly'], ['pan', 'cake'], ['tooth', 'brush'], ['gold', 'fish'], ['lady', 'bug'],
  ['play', 'ground'], ['back', 'pack'], ['sand', 'box'], ['mail', 'box'], ['rain', 'coat'], ['bath', 'tub'],
  ['pop', 'corn'], ['sea', 'shell'], ['door', 'bell'], ['sun', 'shine'], ['fire', 'fly'], ['book', 'case'],
];
const NOT_COMPOUNDS: readonly string[] = [
  'pencil', 'rabbit', 'kitten', 'yellow', 'garden', 'purple', 'turtle', 'monkey', 'tiger', 'lemon',
  'happy', 'zebra', 'apple', 'banana', 'orange', 'puppy', 'dragon', 'basket', 'silver', 'robot',
];

/** A head word and words that mean almost the same. */
const SYNONYMS: readonly (readonly [string, readonly string[]])[] = [
  ['big', ['large', 'huge']], ['small', ['little', 'tiny']], ['happy', ['glad', 'cheerful']],
  ['fast', ['quick', 'speedy']], ['begin', ['start']], ['shut', ['close']], ['angry', ['mad', 'cross']],
  ['shout', ['yell']], ['scared', ['afraid', 'frightened']], ['smart', ['clever', 'bright']],
  ['gift', ['present']], ['finish', ['end']], ['sick', ['ill']], ['rock', ['stone']], ['smile', ['grin']],
  ['jump', ['leap', 'hop']], ['mistake', ['error']], ['kind', ['nice', 'gentle']],
];

/** Opposite pairs; the extra lists are other accepted opposites of the first and second word. */
const ANTONYMS: readonly (readonly [string, string, readonly string[], readonly string[]])[] = [
  ['hot', 'cold', ['cool'], ['warm']], ['loud', 'quiet', ['soft', 'silent'], ['noisy']], ['tall', 'short', [], ['long']],
  ['happy', 'sad', ['unhappy'], ['glad']], ['fast', 'slow', [], ['quick']], ['open', 'closed', ['shut'], []],
  ['full', 'empty', [], []], ['wet', 'dry', [], []], ['day', 'night', [], []], ['up', 'down', [], []],
  ['push', 'pull', [], []], ['early', 'late', [], []], ['top', 'bottom', [], []], ['in', 'out', [], []],
  ['win', 'lose', [], []], ['always', 'never', [], []], ['first', 'last', [], []], ['give', 'take', [], []],
  ['front', 'back', [], []], ['sink', 'float', [], []], ['asleep', 'awake', [], []],
];

const CONTRACTIONS: readonly (readonly [string, string])[] = [
  ['do not', 'don’t'], ['can not', 'can’t'], ['is not', 'isn’t'], ['I am', 'I’m'], ['it is', 'it’s'],
  ['we are', 'we’re'], ['they are', 'they’re'], ['you are', 'you’re'], ['she is', 'she’s'], ['he will', 'he’ll'],
  ['I will', 'I’ll'], ['did not', 'didn’t'], ['was not', 'wasn’t'], ['let us', 'let’s'], ['we have', 'we’ve'],
  ['are not', 'aren’t'], ['does not', 'doesn’t'], ['I have', 'I’ve'],
];

/** Other correct expansions of a contraction ("she’s" can also be "she has"). */
const OTHER_EXPANSIONS: Readonly<Record<string, readonly string[]>> = {
  'can’t': ['cannot'],
  'she’s': ['she has'],
  'it’s': ['it has'],
};

const PREFIXES: readonly { prefix: string; meaning: string; phrase: (base: string) => string; bases: readonly string[] }[] = [
  { prefix: 'un', meaning: 'not', phrase: (b) => `not ${b}`, bases: ['happy', 'kind', 'safe', 'fair', 'lucky', 'tidy', 'able', 'well'] },
  { prefix: 're', meaning: 'again', phrase: (b) => `${b} again`, bases: ['do', 'read', 'tell', 'build', 'fill', 'write', 'paint', 'play', 'heat'] },
  { prefix: 'pre', meaning: 'before', phrase: (b) => `${b} before`, bases: ['heat', 'view', 'pay', 'wash'] },
  { prefix: 'dis', meaning: 'not', phrase: (b) => `not ${b}`, bases: ['like', 'agree', 'obey', 'trust', 'honest'] },
  { prefix: 'mis', meaning: 'wrongly', phrase: (b) => `${b} wrongly`, bases: ['spell', 'read', 'place', 'behave', 'count', 'hear'] },
];

const SUFFIXES: readonly { suffix: string; meaning: string; phrase: (base: string) => string; bases: readonly string[] }[] = [
  { suffix: 'ful', meaning: 'full of', phrase: (b) => `full of ${b}`, bases: ['help', 'care', 'play', 'hope', 'color', 'joy', 'fear'] },
  { suffix: 'less', meaning: 'without', phrase: (b) => `without ${b}`, bases: ['care', 'hope', 'fear', 'help', 'end', 'sleep', 'harm'] },
  { suffix: 'ly', meaning: 'in a … way', phrase: (b) => `in a ${b} way`, bases: ['quick', 'slow', 'soft', 'sad', 'kind', 'loud', 'brave', 'quiet'] },
  { suffix: 'er', meaning: 'a person who …', phrase: (b) => `a person who ${regularPlural(b)}`, bases: ['teach', 'sing', 'farm', 'paint', 'read', 'play', 'build'] },
];

interface Passage {
  text: string;
  /** What the passage is mostly about, for the explanation. */
  topic: string;
  /** A word the main idea and at least two sentences share. */
  keyword: string;
  mainIdea: string;
  wrongIdeas: readonly [string, string, string];
  question: string;
  answers: readonly string[];
  wrongAnswer: string;
}

const PASSAGES: readonly Passage[] = [
  {
    text: 'Bees are busy insects. They fly from flower to flower to collect nectar. Bees use the nectar to make honey. They also help flowers grow by carrying pollen.',
    topic: 'bees',
    keyword: 'bees',
    mainIdea: 'Bees are busy insects that make honey and help flowers.',
    wrongIdeas: ['Bees carry pollen.', 'Flowers need rain to grow.', 'Honey tastes sweet on toast.'],
    question: 'What do bees use nectar to make?',
    answers: ['honey'],
    wrongAnswer: 'pollen',
  },
  {
    text: 'A frog starts life as a tiny egg in a pond. The egg hatches into a tadpole with a long tail. The tadpole grows legs, and its tail gets shorter. At last, the frog can hop out of the pond.',
    topic: 'how a frog grows',
    keyword: 'frog',
    mainIdea: 'A frog changes as it grows from an egg into a frog.',
    wrongIdeas: ['Tadpoles have long tails.', 'Ponds are full of fish.', 'Frogs like to sing at night.'],
    question: 'What does the egg hatch into?',
    answers: ['tadpole', 'a tadpole'],
    wrongAnswer: 'fish',
  },
  {
    text: 'It was raining, so Maya could not play outside. She built a blanket fort in the living room. Maya read books inside the fort with a flashlight. Maya had a great time on the rainy day.',
    topic: 'Maya’s rainy day',
    keyword: 'maya',
    mainIdea: 'Maya found a fun way to play inside on a rainy day.',
    wrongIdeas: ['Maya has a flashlight.', 'Rain helps plants grow.', 'Maya likes to play soccer.'],
    question: 'What did Maya build?',
    answers: ['a blanket fort', 'blanket fort', 'a fort', 'fort'],
    wrongAnswer: 'a sandcastle',
  },
  {
    text: 'Penguins are birds, but they cannot fly. Instead, penguins are great swimmers. They use their wings like flippers to move through the water. Penguins dive deep to catch fish to eat.',
    topic: 'penguins',
    keyword: 'penguins',
    mainIdea: 'Penguins are birds that swim instead of flying.',
    wrongIdeas: ['Penguins eat fish.', 'Some birds build nests in trees.', 'The ocean is very cold.'],
    question: 'What do penguins use like flippers?',
    answers: ['wings', 'their wings'],
    wrongAnswer: 'feet',
  },
  {
    text: 'The children at Oak School planted a garden. They dug the soil in the garden and planted seeds in rows. Every day, the children watered the plants. By summer, they had carrots, beans and tomatoes to share.',
    topic: 'the school garden',
    keyword: 'garden',
    mainIdea: 'The children grew a garden at their school.',
    wrongIdeas: ['Carrots are orange.', 'The children watered the plants.', 'Summer is the hottest season.'],
    question: 'What is the name of the school?',
    answers: ['Oak School', 'Oak'],
    wrongAnswer: 'Pine School',
  },
  {
    text: 'Max is a helpful dog. Every morning, Max brings in the newspaper. He carries his own leash when it is time for a walk. Max even picks up toys and puts them in a basket.',
    topic: 'Max and the ways he helps',
    keyword: 'max',
    mainIdea: 'Max is a dog who helps in many ways.',
    wrongIdeas: ['Max likes to go for walks.', 'Newspapers come every morning.', 'Cats like to sleep in the sun.'],
    question: 'Where does Max put the toys?',
    answers: ['in a basket', 'a basket', 'basket', 'in the basket'],
    wrongAnswer: 'in a box',
  },
  {
    text: 'The moon seems to change shape during the month. Sometimes we see a full, round moon. Other times we see only a thin slice called a crescent. The moon does not really change; we just see different parts of it lit by the sun.',
    topic: 'how the moon looks',
    keyword: 'moon',
    mainIdea: 'The moon looks different during the month because we see different lit parts.',
    wrongIdeas: ['A crescent is a thin slice.', 'The sun is a star.', 'People have walked on the moon.'],
    question: 'What is a thin slice of the moon called?',
    answers: ['crescent', 'a crescent'],
    wrongAnswer: 'a full moon',
  },
  {
    text: 'Trees are important to people and animals. Trees give us shade on hot days. Birds and squirrels make their homes in trees. Trees also help keep the air fresh and clean.',
    topic: 'trees',
    keyword: 'trees',
    mainIdea: 'Trees help people and animals in many ways.',
    wrongIdeas: ['Squirrels live in trees.', 'Some trees lose their leaves in fall.', 'Birds can sing.'],
    question: 'What do trees give us on hot days?',
    answers: ['shade'],
    wrongAnswer: 'rain',
  },
];

// ---------------------------------------------------------------------------
// Concepts
// ---------------------------------------------------------------------------

/** Three distinct elements of `pool` not equal to (and not in) `exclude`. */
function others<T>(rng: Rng, pool: readonly T[], exclude: readonly T[], n = 3): T[] {
  return rng.sample(
    pool.filter((x) => !exclude.includes(x)),
    n,
  );
}

/**
 * Three misspelled plurals a child might write, chosen by which rule the
 * real plural follows (so none of them is a real word such as "bookies").
 */
function wrongPlurals(one: string, many: string): string[] {
  if (many === `${one}s`) return [`${one}es`, one, /y$/.test(one) ? `${one.slice(0, -1)}ies` : `${one}ss`];
  if (many === `${one}es`) return [`${one}s`, one, `${one}ses`];
  return [`${one}s`, `${one}es`, one];
}

const SPECS: readonly ConceptSpec[] = [
  spec({
    id: 'letter-sounds',
    grade: 0,
    name: 'Beginning letter sounds',
    description: 'Hear the first sound of a word and match it to its letter.',
    prerequisites: [],
    teach: 'Every word starts with a sound. Say "ball" slowly: /b/ … all. The first sound, /b/, is made by the letter b. "Bat" and "bed" start with the same sound.',
    tip: 'Say the word slowly and listen to your mouth at the very start.',
    make(rng) {
      const letters = Object.keys(FIRST_SOUNDS);
      const letter = rng.pick(letters);
      const words = FIRST_SOUNDS[letter] ?? [];
      const [word, match] = rng.sample(words, 2);
      ensure(word !== undefined && match !== undefined, 'letter-sounds words');
      if (rng.int(0, 1) === 0) {
        const wrong = others(rng, letters, [letter]).map((l) => rng.pick(FIRST_SOUNDS[l] ?? []));
        return {
          stem: `Which word starts with the same sound as ${q(word)}?`,
          answer: txt(match),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: wdiff(0, -0.2),
          explanation: `${q(word)} and ${q(match)} both start with the /${letter}/ sound, made by the letter ${letter}.`,
          check: () => match.charAt(0) === word.charAt(0) && wrong.every((w) => w.charAt(0) !== word.charAt(0)),
        };
      }
      const stem = `What letter makes the first sound in ${q(word)}?`;
      return {
        stem,
        answer: txt(letter),
        distractors: others(rng, letters, [letter]),
        difficulty: wdiff(0, 0),
        explanation: `Say it slowly: /${letter}/ … ${word.slice(1)}. The first sound is /${letter}/, made by the letter ${letter}.`,
        check: () => (/"(\w)/.exec(stem)?.[1] ?? '') === letter,
      };
    },
  }),
  spec({
    id: 'sight-words',
    grade: 0,
    name: 'Sight words',
    description: 'Read and spell common words that are best learned by sight.',
    prerequisites: ['letter-sounds'],
    teach: 'Some words, like "the", "said" and "they", appear in almost every book but do not follow the usual sound rules. We learn them by sight so we can read them quickly.',
    tip: 'Look at the word, say it, spell it out loud, then write it without looking.',
    make(rng) {
      const sw = rng.pick(SIGHT_WORDS);
      const all = SIGHT_WORDS.map((s) => s.word);
      if (rng.int(0, 1) === 0) {
        const letters = [...sw.word].sort();
        const stem = `Unscramble the letters ${letters.join(', ')} to finish the sentence: "${sw.sentence}"`;
        return {
          stem,
          answer: txt(sw.word),
          distractors: [letters.join(''), ...sw.misspellings],
          formats: ['short_text'],
          difficulty: wdiff(0, 0.4 + 0.05 * sw.word.length),
          explanation: `The letters ${letters.join(', ')} spell ${q(sw.word)}: "${sw.sentence.replace('___', sw.word)}"`,
          check: () => [...sw.word].sort().join('') === letters.join('') && letters.join('') !== sw.word && stem.includes('___'),
        };
      }
      return {
        stem: `Choose the correct spelling to finish the sentence: "${sw.sentence}"`,
        answer: txt(sw.word),
        distractors: sw.misspellings,
        formats: ['multiple_choice'],
        difficulty: wdiff(0, 0.1),
        explanation: `The correct spelling is ${q(sw.word)}: "${sw.sentence.replace('___', sw.word)}"`,
        check: () => sw.misspellings.every((m) => m !== sw.word && !all.includes(m)),
      };
    },
  }),
  spec({
    id: 'rhyming',
    grade: 0,
    name: 'Rhyming words',
    description: 'Find words that rhyme because they end with the same sound.',
    prerequisites: ['letter-sounds'],
    teach: 'Words rhyme when they end with the same sound, like "cat", "hat" and "bat". Only the beginning sound changes.',
    tip: 'Cover the first letter of each word: if what is left sounds the same, the words rhyme.',
    make(rng, level) {
      const fam = rng.pick(RHYMES);
      const otherWords = RHYMES.filter((f) => f !== fam).flatMap((f) => f.words);
      const kind = rng.int(0, level === 0 ? 1 : 2);
      if (kind === 0) {
        const [word, match] = rng.sample(fam.words, 2);
        ensure(word !== undefined && match !== undefined, 'rhyme words');
        const wrong = rng.sample(otherWords, 3);
        return {
          stem: `Which word rhymes with ${q(word)}?`,
          answer: txt(match),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: wdiff(0, -0.1),
          explanation: `${q(word)} and ${q(match)} both end with "-${fam.rime}", so they rhyme.`,
          check: () => word.endsWith(fam.rime) && match.endsWith(fam.rime) && wrong.every((w) => !w.endsWith(fam.rime) && !fam.words.includes(w)),
        };
      }
      if (kind === 1) {
        const simple = fam.words.filter((w) => w.length === fam.rime.length + 1);
        if (simple.length >= 2) {
          const [from, to] = rng.sample(simple, 2);
          ensure(from !== undefined && to !== undefined, 'rhyme pair');
          const letter = to.charAt(0);
          const stem = `Change the first letter of ${q(from)} to "${letter}". What rhyming word do you make?`;
          return {
            stem,
            answer: txt(to),
            distractors: [from],
            formats: ['short_text'],
            difficulty: wdiff(0, 0.3),
            explanation: `Take away the "${from.charAt(0)}" and put "${letter}" in its place: ${letter} + ${fam.rime} = ${q(to)}. It rhymes with ${q(from)}.`,
            check: () => letter + from.slice(1) === to && fam.words.includes(to),
          };
        }
      }
      const [target, ...rest] = rng.sample(fam.words, fam.words.length);
      ensure(target !== undefined, 'rhyme target');
      const k = rng.int(1, Math.min(3, rest.length));
      const list = rng.shuffle([...rest.slice(0, k), ...rng.sample(otherWords, 4 - k)]);
      const stem = `How many of these words rhyme with ${q(target)}: ${list.join(', ')}?`;
      return {
        stem,
        answer: num(k),
        distractors: [0, 1, 2, 3, 4].filter((x) => x !== k),
        difficulty: wdiff(0, 0.5),
        explanation: `${list.filter((w) => w.endsWith(fam.rime)).map(q).join(' and ')} ${k === 1 ? 'ends' : 'end'} with "-${fam.rime}" like ${q(target)}, so ${k} ${k === 1 ? 'word rhymes' : 'words rhyme'}.`,
        check: () => stem.slice(stem.indexOf(':') + 1, -1).split(',').filter((w) => w.trim().endsWith(fam.rime)).length === k,
      };
    },
  }),
  spec({
    id: 'syllables',
    grade: 0,
    name: 'Counting syllables',
    description: 'Clap and count the syllables (beats) in a word.',
    prerequisites: ['letter-sounds'],
    teach: 'A syllable is a beat in a word. Clap as you say it: "ap-ple" has 2 claps, "ba-na-na" has 3. Each syllable has one vowel sound.',
    tip: 'Put your hand under your chin: your chin drops once for each syllable.',
    make(rng, level) {
      const pool = level === 0 ? SYLLABLES.filter((s) => s.split('-').length <= 3) : SYLLABLES;
      const split = rng.pick(pool);
      const parts = split.split('-');
      const word = parts.join('');
      const n = parts.length;
      const claps = (s: string) => `${s} (${s.split('-').length === 1 ? '1 beat' : `${s.split('-').length} beats`})`;
      if (rng.int(0, 2) > 0) {
        return {
          stem: `How many syllables are in the word ${q(word)}?`,
          answer: num(n),
          distractors: [1, 2, 3, 4, 5].filter((x) => x !== n),
          difficulty: wdiff(0, 0.1 * n),
          explanation: `Clap it out: ${parts.join(' - ')}. That is ${n} ${n === 1 ? 'syllable' : 'syllables'}.`,
          check: () => estimateSyllables(word) === n,
        };
      }
      const wrong = rng.sample(pool.filter((s) => s.split('-').length !== n), 3);
      return {
        stem: `Which word has ${n} ${n === 1 ? 'syllable' : 'syllables'}?`,
        answer: txt(word),
        distractors: wrong.map((s) => s.replaceAll('-', '')),
        formats: ['multiple_choice'],
        difficulty: wdiff(0, 0.3),
        explanation: `Clap each word: ${[split, ...wrong].map(claps).join(', ')}. Only ${q(word)} has ${n}.`,
        check: () => estimateSyllables(word) === n && wrong.every((s) => estimateSyllables(s.replaceAll('-', '')) !== n),
      };
    },
  }),
  spec({
    id: 'alphabetical-order',
    grade: 1,
    name: 'ABC order',
    description: 'Put words in alphabetical order and know which letters come before and after.',
    prerequisites: ['letter-sounds'],
    teach: 'Alphabetical (ABC) order follows the alphabet: a, b, c … z. To order words, look at the first letter. If two words start with the same letter, look at the second letter.',
    tip: 'Sing the alphabet song quietly to find which letter comes first.',
    make(rng, level) {
      if (rng.int(0, 2) === 0) {
        const after = rng.int(0, 1) === 0;
        const code = rng.int(after ? 98 : 100, after ? 119 : 121);
        const letter = String.fromCharCode(code);
        const answer = String.fromCharCode(after ? code + 1 : code - 1);
        const stem = `What letter comes right ${after ? 'after' : 'before'} "${letter}" in the alphabet?`;
        return {
          stem,
          answer: txt(answer),
          distractors: [String.fromCharCode(after ? code - 1 : code + 1), String.fromCharCode(after ? code + 2 : code - 2), letter, String.fromCharCode(after ? code + 3 : code - 3)],
          difficulty: wdiff(1, -0.4),
          explanation: `Say the alphabet: … ${String.fromCharCode(code - 1)}, ${letter}, ${String.fromCharCode(code + 1)} … The letter right ${after ? 'after' : 'before'} ${letter} is ${answer}.`,
          check: () => {
            const l = /"(\w)"/.exec(stem)?.[1] ?? '';
            return 'abcdefghijklmnopqrstuvwxyz'.indexOf(l) + (stem.includes('after') ? 1 : -1) === 'abcdefghijklmnopqrstuvwxyz'.indexOf(answer);
          },
        };
      }
      const byFirst = level === 0 || rng.int(0, 1) === 0;
      const words = byFirst ? rng.sample(ABC_WORDS, 4) : rng.sample(rng.pick(ABC_GROUPS), 4);
      const first = [...words].sort()[0] ?? '';
      const stem = `Which word comes first in ABC order: ${words.join(', ')}?`;
      return {
        stem,
        answer: txt(first),
        distractors: words.filter((w) => w !== first),
        difficulty: wdiff(1, byFirst ? -0.2 : 0.4),
        explanation: byFirst
          ? `Look at the first letters: ${words.map((w) => w.charAt(0)).join(', ')}. "${first.charAt(0)}" comes first in the alphabet, so ${q(first)} comes first.`
          : `All the words start with "${first.charAt(0)}", so look at the second letters: ${words.map((w) => w.charAt(1)).join(', ')}. "${first.charAt(1)}" comes first, so ${q(first)} comes first.`,
        check: () => {
          const listed = stem.slice(stem.indexOf(':') + 1, -1).split(',').map((w) => w.trim());
          return listed.length === 4 && listed.every((w) => w.localeCompare(first) >= 0);
        },
      };
    },
  }),
  spec({
    id: 'digraphs',
    grade: 1,
    name: 'Letter teams: sh, ch, th and wh',
    description: 'Recognize two letters that work together to make one sound.',
    prerequisites: ['letter-sounds'],
    teach: 'Some letters team up to make one new sound. S and h make /sh/ as in "ship". C and h make /ch/ as in "chair". T and h make /th/ as in "thumb". W and h make /w/ as in "whale".',
    tip: 'When you see s, c, t or w followed by h, read the two letters together as one sound.',
    make(rng, level) {
      const kind = rng.int(0, level === 0 ? 1 : 2);
      if (kind === 0) {
        const dg = rng.pick(DIGRAPHS);
        const word = rng.pick(DIGRAPH_START[dg] ?? []);
        const stem = `Which two letters make the first sound in ${q(word)}?`;
        return {
          stem,
          answer: txt(dg),
          distractors: DIGRAPHS.filter((d) => d !== dg),
          difficulty: wdiff(1, -0.3),
          explanation: `${q(word)} starts with the letter team "${dg}". The letters ${dg.charAt(0)} and ${dg.charAt(1)} work together to make one sound.`,
          check: () => (/"(\w+)"/.exec(stem)?.[1] ?? '').startsWith(dg),
        };
      }
      if (kind === 1) {
        const dg = rng.pick(DIGRAPHS);
        const [word, match] = rng.sample(DIGRAPH_START[dg] ?? [], 2);
        ensure(word !== undefined && match !== undefined, 'digraph words');
        const wrong = DIGRAPHS.filter((d) => d !== dg).map((d) => rng.pick(DIGRAPH_START[d] ?? []));
        return {
          stem: `Which word starts with the same two letters as ${q(word)}?`,
          answer: txt(match),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: wdiff(1, 0),
          explanation: `${q(word)} and ${q(match)} both start with "${dg}".`,
          check: () => match.startsWith(dg) && word.startsWith(dg) && wrong.every((w) => !w.startsWith(dg)),
        };
      }
      const dg = rng.pick(Object.keys(DIGRAPH_END));
      const word = rng.pick(DIGRAPH_END[dg] ?? []);
      const stem = `Which two letters make the last sound in ${q(word)}?`;
      return {
        stem,
        answer: txt(dg),
        distractors: DIGRAPHS.filter((d) => d !== dg),
        difficulty: wdiff(1, 0.2),
        explanation: `${q(word)} ends with the letter team "${dg}", which makes one sound.`,
        check: () => (/"(\w+)"/.exec(stem)?.[1] ?? '').endsWith(dg),
      };
    },
  }),
  spec({
    id: 'plurals',
    grade: 1,
    name: 'Plurals with -s and -es',
    description: 'Make words mean more than one by adding -s, -es or changing y to -ies.',
    prerequisites: ['sight-words'],
    teach: 'A plural means more than one. Most words just add -s: one cat, two cats. Words ending in s, x, ch or sh add -es: box, boxes. Words ending in a consonant and y change the y to i and add -es: baby, babies.',
    tip: 'Say the plural out loud: if you hear an extra beat (box-es), you probably need -es.',
    make(rng) {
      const [one, many] = rng.pick(PLURALS);
      const rule = /(s|x|z|ch|sh)$/.exec(one);
      const explanation = rule
        ? `${q(one)} ends in "${rule[1]}", so add -es: ${many}.`
        : /[^aeiou]y$/.test(one)
          ? `${q(one)} ends in a consonant and y, so change the y to i and add -es: ${many}.`
          : `Just add -s: one ${one}, two ${many}.`;
      const wrong = wrongPlurals(one, many);
      const common = { answer: txt(many), distractors: wrong, explanation, check: () => regularPlural(one) === many && !wrong.includes(many) };
      if (rng.int(0, 1) === 0) {
        return { ...common, stem: `One ${one}, two ___. What word goes in the blank?`, formats: ['short_text'], difficulty: wdiff(1, many.endsWith('es') ? 0.4 : -0.2) };
      }
      return { ...common, stem: `Which word means more than one ${one}?`, formats: ['multiple_choice'], difficulty: wdiff(1, many.endsWith('es') ? 0.1 : -0.4) };
    },
  }),
  spec({
    id: 'compound-words',
    grade: 1,
    name: 'Compound words',
    description: 'Join two small words to make a new word, and split compound words apart.',
    prerequisites: ['sight-words', 'syllables'],
    teach: 'A compound word is made of two smaller words joined together. Sun + flower = sunflower. Rain + bow = rainbow. Knowing the two parts helps you read and understand the big word.',
    tip: 'Look for a small word you know at the start of a long word, then see if the rest is a word too.',
    make(rng) {
      const [a, b] = rng.pick(COMPOUNDS);
      const word = a + b;
      const parts = new Set(COMPOUNDS.flatMap(([x, y]) => [x, y]));
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const stem = `Put "${a}" and "${b}" together. What compound word do you make?`;
        return {
          stem,
          answer: txt(word),
          distractors: [b + a, a, b],
          formats: ['short_text'],
          difficulty: wdiff(1, -0.3),
          explanation: `"${a}" + "${b}" = ${q(word)}.`,
          check: () => {
            const [x, y] = [...stem.matchAll(/"(\w+)"/g)].map((m) => m[1]);
            return `${x}${y}` === word;
          },
        };
      }
      if (kind === 1) {
        const wrong = rng.sample(NOT_COMPOUNDS, 3);
        const list = rng.shuffle([word, ...wrong]);
        const splits = (w: string) => [...Array(Math.max(0, w.length - 1)).keys()].some((i) => parts.has(w.slice(0, i + 1)) && parts.has(w.slice(i + 1)));
        return {
          stem: `Which of these is a compound word: ${list.join(', ')}?`,
          answer: txt(word),
          distractors: wrong,
          difficulty: wdiff(1, 0.1),
          explanation: `${q(word)} is made of two words: "${a}" + "${b}". The other words cannot be split into two words.`,
          check: () => splits(word) && wrong.every((w) => !splits(w)),
        };
      }
      const stem = `What two words make up the compound word ${q(word)}? Write them with a space between.`;
      return {
        stem,
        answer: txt(`${a} ${b}`, [`${a} + ${b}`, `${a} and ${b}`, `${a}, ${b}`]),
        distractors: [word, `${b} ${a}`],
        formats: ['short_text'],
        difficulty: wdiff(1, 0.2),
        explanation: `${q(word)} = "${a}" + "${b}".`,
        check: () => (/"(\w+)"/.exec(stem)?.[1] ?? '') === a + b && parts.has(a) && parts.has(b),
      };
    },
  }),
  spec({
    id: 'synonyms',
    grade: 2,
    name: 'Synonyms',
    description: 'Find words that mean almost the same thing.',
    prerequisites: ['sight-words'],
    teach: 'Synonyms are words that mean almost the same thing, like "big" and "large", or "happy" and "glad". Using synonyms makes your writing more interesting.',
    tip: 'Try the new word in a sentence in place of the old one. If the meaning stays the same, it is a synonym.',
    make(rng) {
      const [head, syns] = rng.pick(SYNONYMS);
      const group = [head, ...syns];
      const syn = rng.pick(syns);
      const explanation = `${q(head)} and ${q(syn)} are synonyms: you could say ${q(syn)} instead of ${q(head)} and the meaning stays almost the same.`;
      if (rng.int(0, 1) === 0) {
        const wrong = rng.sample(SYNONYMS.filter(([h]) => h !== head).map(([h]) => h), 3);
        return {
          stem: `Which word means almost the same as ${q(head)}?`,
          answer: txt(syn),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: wdiff(2, -0.3),
          explanation,
          check: () => syns.includes(syn) && wrong.every((w) => !group.includes(w)),
        };
      }
      const letter = syn.charAt(0);
      const accepted = syns.filter((s) => s.startsWith(letter));
      return {
        stem: `Write a word that means the same as ${q(head)}. It starts with "${letter}".`,
        answer: txt(syn, accepted),
        distractors: [head],
        formats: ['short_text'],
        difficulty: wdiff(2, 0.3),
        explanation,
        check: () => accepted.every((s) => s.startsWith(letter) && syns.includes(s)),
      };
    },
  }),
  spec({
    id: 'antonyms',
    grade: 2,
    name: 'Antonyms',
    description: 'Find words that mean the opposite.',
    prerequisites: ['synonyms'],
    teach: 'Antonyms are opposites: words that mean very different things, like "hot" and "cold", or "up" and "down".',
    tip: 'Ask yourself: what is the exact opposite? If something is not full, it is empty.',
    make(rng) {
      const pair = rng.pick(ANTONYMS);
      const flip = rng.int(0, 1) === 1;
      const word = flip ? pair[1] : pair[0];
      const opposite = flip ? pair[0] : pair[1];
      const accepted = [opposite, ...(flip ? pair[3] : pair[2])];
      const explanation = `${q(word)} and ${q(opposite)} are antonyms: they mean opposite things.`;
      if (rng.int(0, 1) === 0) {
        const pool = ANTONYMS.filter((p) => p !== pair).flatMap((p) => [p[0], p[1]]);
        const wrong = rng.sample(pool.filter((w) => !accepted.includes(w) && w !== word), 3);
        return {
          stem: `Which word is the opposite of ${q(word)}?`,
          answer: txt(opposite),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: wdiff(2, -0.4),
          explanation,
          check: () => wrong.every((w) => !accepted.includes(w)) && (pair[0] === word ? pair[1] : pair[0]) === opposite,
        };
      }
      return {
        stem: `What is the opposite of ${q(word)}?`,
        answer: txt(opposite, accepted),
        distractors: [word],
        formats: ['short_text'],
        difficulty: wdiff(2, 0.1),
        explanation,
        check: () => (pair[0] === word ? pair[1] : pair[0]) === opposite && !accepted.includes(word),
      };
    },
  }),
  spec({
    id: 'contractions',
    grade: 2,
    name: 'Contractions',
    description: 'Join two words into a shorter word with an apostrophe.',
    prerequisites: ['sight-words'],
    teach: 'A contraction squeezes two words into one. An apostrophe (’) takes the place of the letters that are left out: do not → don’t, I am → I’m, we will → we’ll.',
    tip: 'The apostrophe goes exactly where the missing letters were.',
    make(rng) {
      const [full, short] = rng.pick(CONTRACTIONS);
      const straight = short.replace('’', "'");
      const dropped = droppedLetters(short, full);
      const explanation = `In ${q(short)}, the apostrophe takes the place of the missing ${dropped.length === 1 ? 'letter' : 'letters'} "${dropped}": ${full} → ${short}.`;
      const check = () => short.includes('’') && isSubsequence(short, full) && dropped.length > 0;
      if (rng.int(0, 1) === 0) {
        return {
          stem: `Write the contraction for "${full}".`,
          answer: txt(short, [straight]),
          distractors: [short.replace('’', ''), full],
          formats: ['short_text'],
          difficulty: wdiff(2, 0.2),
          explanation,
          check,
        };
      }
      const wrong = rng.sample(CONTRACTIONS.map(([f]) => f).filter((f) => f !== full && !isSubsequence(short, f)), 3);
      return {
        stem: `Which two words make the contraction ${q(short)}?`,
        answer: txt(full, OTHER_EXPANSIONS[short] ?? []),
        distractors: wrong,
        difficulty: wdiff(2, -0.2),
        explanation,
        check: () => check() && wrong.every((w) => !isSubsequence(short, w)),
      };
    },
  }),
  spec({
    id: 'irregular-plurals',
    grade: 2,
    name: 'Special plurals',
    description: 'Learn plurals that do not just add -s, such as children, mice and leaves.',
    prerequisites: ['plurals'],
    teach: 'Some words have special plurals. Some change their vowels (foot → feet, mouse → mice), some add -en (child → children), some change f to v and add -es (leaf → leaves), and some stay the same (sheep → sheep).',
    tip: 'If a plural with -s sounds funny ("foots"), it is probably a special plural.',
    make(rng) {
      const w = rng.pick(IRREGULAR);
      const explanation =
        w.kind === 'same'
          ? `${q(w.one)} stays the same when there is more than one: one ${w.one}, two ${w.many}.`
          : w.kind === 'f'
            ? `For ${q(w.one)}, change the f to v and add -es: one ${w.one}, two ${w.many}.`
            : `${q(w.one)} has a special plural. We do not add -s: one ${w.one}, two ${w.many}.`;
      const common = {
        answer: txt(w.many),
        distractors: w.wrong,
        explanation,
        check: () => regularPlural(w.one) !== w.many && !w.wrong.includes(w.many),
      };
      if (rng.int(0, 1) === 0) return { ...common, stem: `One ${w.one}, two ___. What word goes in the blank?`, formats: ['short_text'], difficulty: wdiff(2, 0.3) };
      return { ...common, stem: `Which is the correct plural of ${q(w.one)}?`, formats: ['multiple_choice'], difficulty: wdiff(2, -0.2) };
    },
  }),
  spec({
    id: 'main-idea',
    grade: 2,
    name: 'Finding the main idea',
    description: 'Tell what a short passage is mostly about and find key details.',
    prerequisites: ['sight-words'],
    teach: 'The main idea is what a passage is mostly about. Details are smaller facts that tell more about the main idea. A good main idea fits every sentence in the passage, not just one.',
    tip: 'Ask: what do most of the sentences talk about? That is the main idea.',
    make(rng) {
      const p = rng.pick(PASSAGES);
      if (rng.int(0, 1) === 0) {
        return {
          stem: `Read the passage.\n\n${p.text}\n\nWhat is the main idea?`,
          answer: txt(p.mainIdea),
          distractors: p.wrongIdeas,
          formats: ['multiple_choice'],
          difficulty: wdiff(2, 0.4),
          explanation: `Most sentences tell us about ${p.topic}, so the main idea is: "${p.mainIdea}" The other choices are only small details or are not in the passage.`,
          check: () => {
            const mentions = p.text.toLowerCase().split(p.keyword).length - 1;
            return mentions >= 2 && p.mainIdea.toLowerCase().includes(p.keyword) && !p.wrongIdeas.includes(p.mainIdea);
          },
        };
      }
      const sentence = p.text.split(/(?<=[.!?;])\s+/).find((s) => s.toLowerCase().includes((p.answers[0] ?? '').toLowerCase())) ?? '';
      return {
        stem: `Read the passage.\n\n${p.text}\n\n${p.question}`,
        answer: txt(p.answers[0] ?? '', p.answers),
        distractors: [p.wrongAnswer],
        formats: ['short_text'],
        difficulty: wdiff(2, 0),
        explanation: `The passage says: "${sentence}"`,
        check: () => sentence !== '' && p.question.endsWith('?') && !p.answers.includes(p.wrongAnswer),
      };
    },
  }),
  spec({
    id: 'prefixes',
    grade: 3,
    name: 'Prefixes: un-, re-, pre-, dis- and mis-',
    description: 'Use prefixes to change the meaning of a word.',
    prerequisites: ['antonyms'],
    teach: 'A prefix is a word part added to the front of a word. It changes the meaning: un- and dis- mean "not" (unhappy, dislike), re- means "again" (reread), pre- means "before" (preheat) and mis- means "wrongly" (misspell).',
    tip: 'Cover the prefix, read the base word, then add the prefix’s meaning.',
    make(rng) {
      const p = rng.pick(PREFIXES);
      const base = rng.pick(p.bases);
      const word = p.prefix + base;
      const phrase = p.phrase(base);
      const explanation = `The prefix "${p.prefix}-" means "${p.meaning}", so ${q(word)} means "${phrase}".`;
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const meanings = [...new Set(PREFIXES.map((x) => x.meaning))];
        const wrong = meanings.filter((m) => m !== p.meaning);
        return {
          stem: `What does the prefix "${p.prefix}-" mean in the word ${q(word)}?`,
          answer: txt(p.meaning),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: wdiff(3, -0.3),
          explanation,
          check: () => word.startsWith(p.prefix) && word.slice(p.prefix.length) === base && !wrong.includes(p.meaning),
        };
      }
      const stem =
        kind === 1
          ? `Add the prefix "${p.prefix}-" to ${q(base)}. What new word do you make?`
          : `Use the prefix "${p.prefix}-" to write one word that means "${phrase}".`;
      return {
        stem,
        answer: txt(word),
        distractors: [base, phrase],
        formats: ['short_text'],
        difficulty: wdiff(3, kind === 1 ? -0.5 : 0.2),
        explanation,
        check: () => word === `${p.prefix}${base}` && stem.includes(`"${p.prefix}-"`),
      };
    },
  }),
  spec({
    id: 'suffixes',
    grade: 3,
    name: 'Suffixes: -ful, -less, -ly and -er',
    description: 'Use suffixes to make new words and work out what they mean.',
    prerequisites: ['plurals'],
    teach: 'A suffix is a word part added to the end of a word. -ful means "full of" (helpful), -less means "without" (careless), -ly means "in a … way" (slowly) and -er can mean "a person who" (teacher).',
    tip: 'Find the base word first, then think about what the suffix adds.',
    make(rng) {
      const s = rng.pick(SUFFIXES);
      const base = rng.pick(s.bases);
      const word = base + s.suffix;
      const phrase = s.phrase(base);
      const explanation = `The suffix "-${s.suffix}" means "${s.meaning}", so ${q(word)} means "${phrase}".`;
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const stem = `Add the suffix "-${s.suffix}" to ${q(base)}. What new word do you make?`;
        return {
          stem,
          answer: txt(word),
          distractors: [base, `${s.suffix}${base}`],
          formats: ['short_text'],
          difficulty: wdiff(3, -0.5),
          explanation,
          check: () => word.startsWith(base) && word.endsWith(s.suffix) && word.length === base.length + s.suffix.length,
        };
      }
      if (kind === 1) {
        const all = SUFFIXES.flatMap((x) => x.bases.map((b) => ({ word: b + x.suffix, phrase: x.phrase(b) })));
        const sameBase = all.filter((x) => x.word !== word && x.word.startsWith(base) && SUFFIXES.some((y) => x.word === base + y.suffix));
        const sameSuffix = all.filter((x) => x.word !== word && x.word.endsWith(s.suffix));
        const wrong = [...rng.shuffle(sameBase), ...rng.shuffle(sameSuffix)].slice(0, 3);
        return {
          stem: `Which word means "${phrase}"?`,
          answer: txt(word),
          distractors: wrong.map((x) => x.word),
          formats: ['multiple_choice'],
          difficulty: wdiff(3, 0),
          explanation,
          check: () => wrong.length === 3 && wrong.every((x) => x.phrase !== phrase),
        };
      }
      const other = rng.pick(SUFFIXES.filter((x) => x !== s)).suffix;
      return {
        stem: `Which suffix can you add to ${q(base)} to make a word that means "${phrase}"?`,
        answer: txt(s.suffix, [`-${s.suffix}`]),
        distractors: [other, `-${other}`],
        formats: ['short_text'],
        difficulty: wdiff(3, 0.4),
        explanation,
        check: () => s.phrase(base) === phrase && base + s.suffix === word,
      };
    },
  }),
];

/** The concept templates of Word Kids, by concept id: the offline item generator (adapters/llm) draws fresh items from them. */
export const WORDKIDS_TEMPLATES: readonly ConceptSpec[] = SPECS;

const LESSON_COUNT = 30;

/** Integrity checks on the embedded word lists, run once per build. */
function checkWordLists(): void {
  for (const split of SYLLABLES) {
    const word = split.replaceAll('-', '');
    ensure(estimateSyllables(word) === split.split('-').length, `syllable split "${split}" disagrees with the vowel-group estimate`);
  }
  for (const [one, many] of PLURALS) ensure(regularPlural(one) === many, `plural of ${one} should follow the -s/-es/-ies rule`);
  for (const fam of RHYMES) for (const w of fam.words) ensure(w.endsWith(fam.rime), `${w} should end with -${fam.rime}`);
  for (const [letter, words] of Object.entries(FIRST_SOUNDS)) for (const w of words) ensure(w.startsWith(letter), `${w} should start with ${letter}`);
  const sight = new Set(SIGHT_WORDS.map((s) => s.word));
  for (const s of SIGHT_WORDS) ensure(s.sentence.split('___').length === 2 && s.misspellings.every((m) => !sight.has(m)), `sight word ${s.word}`);
}

/**
 * Builds the Word Kids demo curriculum (K–3 reading and vocabulary).
 * Deterministic: each lesson draws from its own fixed-seed PRNG, so two
 * calls return deep-equal packs; every item is verified while building.
 */
export function buildWordkidsPack(): CurriculumPack {
  checkWordLists();
  const byId = new Map(SPECS.map((s) => [s.id, s]));
  const plans = SPECS.flatMap((s, i) => {
    const warmUp = s.prerequisites[0] === undefined ? undefined : byId.get(s.prerequisites[0]);
    return [introPlan(s, 6 + (i % 3)), practicePlan(s, warmUp, 7)];
  });
  ensure(plans.length === LESSON_COUNT, `wordkids must have ${LESSON_COUNT} lessons, planned ${plans.length}`);
  return {
    concepts: SPECS.map(toConcept),
    lessons: plans.map((plan) => buildLesson(plan, SEED_KEY)),
  };
}
