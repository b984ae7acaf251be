// regex_cases.json (read by the C++ regex_grammar_test) must hold node's RegExp answers for the
// cases of regex_cases.mjs: the expectations of the pattern compiler's unit test come from node,
// not from the compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { expected } from './regex_cases.mjs';

test('regex_cases.json equals RegExp', () => {
  const file = JSON.parse(readFileSync(new URL('./regex_cases.json', import.meta.url), 'utf8'));
  assert.deepEqual(file, expected());
  // Both answers occur, so the unit test checks matching and refusing.
  const all = file.flatMap((c) => c.strings.map((s) => s.match));
  assert.ok(all.includes(true) && all.includes(false));
});
