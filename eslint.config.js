// Type-checked linting for every package. Packages may not log with console.* (use the injected libp2p logger)
// nor throw bare Error objects (one class per failure mode); apps and tooling may.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.toolchain/**',
      '.turbo/**',
      '**/src/pb/*.ts',
      'test-results/**',
      'playwright-report/**',
      'bench/results/**'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            'eslint.config.js',
            'tooling/*.mjs',
            'tooling/test/*.mjs',
            'tooling/test/fixtures/*.mjs'
          ]
        },
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@kith/*/src/*', '../../packages/*'], message: 'import a package by its name' }
          ]
        }
      ],
      eqeqeq: ['error', 'smart'],
      'max-params': ['error', 4]
    }
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/devtools/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Error']",
          message: 'throw a named error class from errors.ts'
        }
      ]
    }
  },
  {
    files: ['tooling/*.mjs', 'tooling/test/*.mjs', 'tooling/test/fixtures/*.mjs', 'eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } }
  },
  {
    files: ['**/*.spec.ts', '**/test/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off'
    }
  }
)
