/**
 * Hostile C-FIND keys to `loader serve`: wildcard patterns that make a
 * backtracking regular expression run for hours, and a 70 000-character
 * Patient's Name. The server returns a final status for each one, stays
 * responsive for the next query and keeps its log lines short. `loader
 * studies` takes the same patterns. A hang fails by jest's timeout.
 */
import { LoaderServer, corpusSamples, runLoader, startLoader } from '../support/peers';
import { find, storeWithOwnSyntax } from './helpers';

const stored = corpusSamples((file) => file.kind === 'ct');

const HOSTILE_PATTERNS: [string, string][] = [
  ['40 stars then X', '*'.repeat(40) + 'X'],
  ['25 star-question pairs then X', '*?'.repeat(25) + 'X'],
  ['20 star-letter pairs then X', '*n'.repeat(20) + 'X'],
];

/** Maximum length of a log line about one request, far below the 70 000-character name. */
const MAX_LOG_LINE = 2000;

let loader: LoaderServer;

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const store = await storeWithOwnSyntax(loader, stored);
  if (store.code !== 0) throw new Error(`storing the corpus failed: ${store.stderr.slice(-2000)}`);
});

afterAll(async () => {
  await loader?.stop();
});

describe('C-FIND hostile patterns', () => {
  test.each(HOSTILE_PATTERNS)('%s returns no match', async (_case, pattern) => {
    const { run, finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', `PatientName=${pattern}`, 'StudyInstanceUID']);

    expect(run.code).toBe(0);
    expect(finalStatus).toBe('Success');
    expect(responses).toEqual([]);
  });

  test('server responds afterwards', async () => {
    const { finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', 'PatientName=*', 'StudyInstanceUID']);

    expect(finalStatus).toBe('Success');
    expect(responses.length).toBeGreaterThan(0);
  });

  test.each(HOSTILE_PATTERNS)('loader studies --name %s', async (_case, pattern) => {
    const result = await runLoader(['studies', '--json', '--name', pattern], { dirs: loader.dirs });

    expect(result.code).toBe(0);
    expect(result.json<unknown[]>()).toEqual([]);
  });
});

describe('C-FIND over-long key', () => {
  test('70000-character name rejected', async () => {
    const logOffset = loader.readLog().length;
    const { finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', `PatientName=${'A'.repeat(70_000)}`, 'StudyInstanceUID']);

    expect(finalStatus).toMatch(/DoesNotMatchSOPClass/);
    expect(responses).toEqual([]);
    const log = loader.readLog().slice(logOffset);
    expect(log).toContain('PatientName has 70000 characters in a group; PN allows 64');
    const longest = Math.max(...log.split('\n').map((line) => line.length));
    expect(longest).toBeLessThan(MAX_LOG_LINE);
  });

  test('loader studies rejects a too long name', async () => {
    const result = await runLoader(['studies', '--name', 'A'.repeat(100)], { dirs: loader.dirs });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--name is too long: PatientName has 100 characters in a group; PN allows 64');
  });
});
