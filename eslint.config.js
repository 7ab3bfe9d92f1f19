// Type-aware lint for what the compiler cannot enforce by itself (`npm run lint`, run by CI):
// non-null assertions that assert nothing. With noUncheckedIndexedAccess on, an assertion is
// either needed by the type checker or it is noise, and noise hides the ones that matter.
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**', '**/*.js'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: __dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: { '@typescript-eslint/no-unnecessary-type-assertion': 'error' },
  },
);
