/** Grouped printing of failed, held-back and warned instances in the CLI reports. */
import { printInstanceProblems } from '../../src/cli/instance-problems';

function printed(problems: { sopInstanceUid: string; reason: string }[]): string[] {
  const lines: string[] = [];
  printInstanceProblems('failed', problems, (line) => lines.push(line));
  return lines;
}

describe('printInstanceProblems', () => {
  test('few instances one line each', () => {
    const lines = printed([
      { sopInstanceUid: '1.2.1', reason: 'rejected' },
      { sopInstanceUid: '1.2.2', reason: 'rejected' },
    ]);

    expect(lines).toEqual(['  failed: 1.2.1: rejected\n', '  failed: 1.2.2: rejected\n']);
  });

  test('shared reason printed once', () => {
    const refusedReason = 'connect ECONNREFUSED 127.0.0.1:4242';
    const problems = Array.from({ length: 90 }, (_, index) => ({ sopInstanceUid: `1.2.${index}`, reason: refusedReason }));

    const lines = printed([...problems, { sopInstanceUid: '1.3', reason: 'other' }]);

    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      "  failed: 90 instances: connection to 127.0.0.1:4242 refused: nothing listens on that port; check the node's port and that its DICOM service runs\n",
    );
    expect(lines[1]).toBe('    1.2.0, 1.2.1, 1.2.2 and 87 more (--json lists all)\n');
    expect(lines[2]).toBe('  failed: 1.3: other\n');
  });
});
