/**
 * Bundles the `loader` command into dist/loader.js.
 * Packages from node_modules stay external: better-sqlite3 is a native addon and
 * the rest load faster from node_modules than from a re-bundled copy.
 */
const path = require('path');

const packageJson = require('./package.json');
const externals = Object.keys(packageJson.dependencies || {});

module.exports = {
  target: 'node20',
  entry: {
    loader: './src/cli/main.ts',
    // The viewer starts this file in worker threads; it must sit beside loader.js.
    'render-worker': './src/services/viewer/render-worker.ts',
    // Scans in place start this file in a worker thread to read headers ahead; it must sit beside loader.js.
    'header-prefetch-worker': './src/services/archive/header-prefetch-worker.ts',
  },
  output: {
    path: path.resolve(__dirname, 'dist'),
    filename: '[name].js',
  },
  resolve: { extensions: ['.ts', '.js'] },
  module: {
    rules: [{ test: /\.ts$/, loader: 'ts-loader', options: { transpileOnly: true } }],
  },
  externals: externals.map((name) => ({ [name]: `commonjs ${name}` })),
  externalsPresets: { node: true },
  devtool: 'source-map',
  optimization: { minimize: false },
};
