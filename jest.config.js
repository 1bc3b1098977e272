const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

// JupyterLab and its Yjs stack ship ES modules; let babel transform them.
const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@microsoft/',
  'exenv-es6',
  '@jupyterlab/',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  // The base config also writes junit.xml for CI; keep the tree clean.
  reporters: ['default'],
  setupFilesAfterEnv: [
    ...(baseConfig.setupFilesAfterEnv ?? []),
    '<rootDir>/src/__tests__/setup.ts'
  ],
  transform: {
    ...baseConfig.transform,
    '\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  collectCoverageFrom: [
    'src/**/*.{ts,tsx}',
    '!src/**/*.d.ts',
    '!src/**/__tests__/**'
  ],
  coverageReporters: ['lcov', 'text-summary'],
  testRegex: 'src/.*/.*.spec.ts[x]?$',
  // Only src/ holds tests: keep the venv, the built extension and ui-tests out of jest's map.
  modulePathIgnorePatterns: [
    '<rootDir>/.venv/',
    '<rootDir>/cookbook_ext/',
    '<rootDir>/ui-tests/',
    '<rootDir>/tests/'
  ],
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
