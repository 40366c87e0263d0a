/**
 * Lets a plain Node.js thread require the TypeScript sources directly, by
 * transpiling each .ts module with the typescript package on load. Render
 * workers started from the sources (jest, bench/viewer.js) need it, because
 * worker threads do not inherit ts-jest's transform. A built bundle does not
 * use it. Type errors are not reported here; `npm run typecheck` does that.
 */
'use strict';

const fs = require('fs');

if (!require.extensions['.ts']) {
  const ts = require('typescript');
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    inlineSourceMap: true,
  };
  require.extensions['.ts'] = (module, filename) => {
    const source = fs.readFileSync(filename, 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
    module._compile(outputText, filename);
  };
}
