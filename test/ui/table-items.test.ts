/**
 * Table cells survive the garbage collector: src/ui/components/table-items.ts
 * runs in a child Node process on Qt's offscreen platform, refilling a
 * QTableWidget many times with a forced collection after each refill.
 *
 * The child first runs the plain NodeGui way (clearContents() and new items)
 * to show that this test detects the crash: NodeGui 0.74.2 deletes an item
 * that the table already deleted, and the process ends with SIGSEGV.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

import { makeTempDir, REPO_ROOT, runCommand } from '../support/peers';
import { missingGuiPrerequisites } from './gui-prerequisites';

const missing = missingGuiPrerequisites([]);
const describeWithNodeGui = missing.length > 0 ? describe.skip : describe;

const SHIM = path.join(REPO_ROOT, 'native', 'qode-shim', 'build', 'qode_shim.node');

/**
 * The child script. argv[2] is "helper" or "plain"; argv[3] is the
 * transpiled table-items.js. It prints "finished" when every round and the
 * finalizers after it ran.
 */
const CHILD_SCRIPT = `
const os = require('os');
process.dlopen({ exports: {} }, ${JSON.stringify(SHIM)}, os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL);
const { QTableWidget, QTableWidgetItem } = require('@nodegui/nodegui');
const [mode, helperFile] = process.argv.slice(2);
const { releaseTableItems, setTableTexts } = require(helperFile);

const table = new QTableWidget(0, 5);
const fillPlain = (rows) => {
  table.clearContents();
  table.setRowCount(rows.length);
  rows.forEach((texts, row) => texts.forEach((text, column) => table.setItem(row, column, new QTableWidgetItem(text))));
};
const fill = mode === 'helper' ? (rows) => setTableTexts(table, rows) : fillPlain;
// NodeGui runs wrapper finalizers from the event loop's check phase, so each round waits for it.
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

(async () => {
  for (let round = 0; round < 40; round++) {
    // Row counts go up and down, so that setRowCount() both adds and drops rows.
    const rowCount = [20, 3, 0, 12][round % 4];
    fill(Array.from({ length: rowCount }, (_, row) => Array.from({ length: 5 }, (_, column) => round + ':' + row + ':' + column)));
    if (table.rowCount() !== rowCount) throw new Error('round ' + round + ': rowCount() is ' + table.rowCount() + ', expected ' + rowCount);
    if (rowCount > 0 && table.item(rowCount - 1, 4).text() !== round + ':' + (rowCount - 1) + ':4') throw new Error('round ' + round + ': wrong text in the last cell');
    global.gc();
    await nextTurn();
  }
  if (mode === 'helper') releaseTableItems(table);
  global.gc();
  await nextTurn();
  await nextTurn();
  console.log('finished');
  process.exit(0);
})();
`;

describeWithNodeGui('table items', () => {
  const workDir = makeTempDir('table-items');
  const helperFile = path.join(workDir, 'table-items.js');
  const scriptFile = path.join(workDir, 'refill.js');

  beforeAll(() => {
    const source = fs.readFileSync(path.join(REPO_ROOT, 'src', 'ui', 'components', 'table-items.ts'), 'utf8');
    const output = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    fs.writeFileSync(helperFile, output.outputText);
    fs.writeFileSync(scriptFile, CHILD_SCRIPT);
  });

  const refill = (mode: 'helper' | 'plain') =>
    runCommand(process.execPath, ['--expose-gc', scriptFile, mode, helperFile], {
      cwd: workDir,
      env: { QT_QPA_PLATFORM: 'offscreen', XDG_RUNTIME_DIR: workDir, NODE_PATH: path.join(REPO_ROOT, 'node_modules') },
      timeoutMs: 60_000,
    });

  test('plain refills crash NodeGui', async () => {
    const result = await refill('plain');
    // If this starts to pass, NodeGui no longer deletes table items twice, and table-items.ts may be dropped.
    expect(result.signal).toBe('SIGSEGV');
  }, 60_000);

  test('helper refills survive collection', async () => {
    const result = await refill('helper');
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('finished');
  }, 60_000);
});
