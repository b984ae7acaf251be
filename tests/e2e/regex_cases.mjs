// Match / non-match cases for the JSON-schema `pattern` compiler (src/serving/regex_grammar.h),
// with the expected answers from node's own RegExp (the "u" flag, as ajv uses it).
// `node regex_cases.mjs --write` regenerates regex_cases.json, which regex_grammar_test reads;
// regex_cases.test.mjs checks that the file still equals what RegExp says.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Strings stay within what the compiler generates for `.` and negated classes (ASCII,
// U+0100..U+07FF, U+4000..U+9FFF), so the grammar's answer must equal RegExp's exactly.
export const cases = [
  ['^abc$', ['abc', 'ab', 'abcd', 'xabc', '']],
  ['abc', ['abc', 'xxabcxx', 'ab', 'a b c', 'ABC']],
  ['^[A-Z]{3}-\\d{4,6}$', ['ABC-1234', 'ABC-123456', 'ABC-123', 'ABC-1234567', 'abc-1234', 'AB1-1234']],
  ['^\\w+$', ['hello_1', 'hello world', '', 'ünï', 'A']],
  ['^\\s*$', ['', '   ', '\t\n', ' x ']],
  ['^\\S+$', ['abc', 'a b', 'ĀĂ', '']],
  ['^\\D\\W$', ['a!', '1!', 'aa', 'x ']],
  ['^[^a-c]+$', ['def', 'xyz', 'abc', 'dax', '中文']],
  ['^a.c$', ['abc', 'a.c', 'a\nc', 'ac', 'a中c']],
  ['^(ab|cd)+$', ['ab', 'abcd', 'cdab', 'abc', '']],
  ['^(?:x|y)?z$', ['z', 'xz', 'yz', 'xyz']],
  ['^(?<year>\\d{4})-(?<month>\\d{2})$', ['2024-01', '202-01', '2024-1']],
  ['^a{2}$', ['aa', 'a', 'aaa']],
  ['^a{2,}$', ['aa', 'aaaaa', 'a']],
  ['^a{0,3}b$', ['b', 'aaab', 'aaaab']],
  ['^a*?b+?$', ['b', 'aabb', 'a']],
  ['^[\\d.-]+$', ['1.5-2', '1,5', '-']],
  ['^[-a]+$', ['-a-', 'b']],
  ['^\\$\\d+\\.\\d{2}$', ['$10.00', '10.00', '$1.5']],
  ['^\\(\\d{3}\\) \\d{3}-\\d{4}$', ['(555) 123-4567', '555-123-4567']],
  ['^[a-z0-9]+(-[a-z0-9]+)*$', ['my-slug-1', 'my--slug', '-slug', 'slug-']],
  ['^\\x41\\u0042\\u{43}$', ['ABC', 'abc']],
  ['^"quoted" \\\\ back$', ['"quoted" \\ back', 'quoted \\ back']],
  ['^tab\\there$', ['tab\there', 'tab here']],
  ['^[\\n\\r]$', ['\n', '\r', 'n']],
  ['^é+$', ['é', 'ééé', 'e']],
  ['^\\u4e2d\\u6587$', ['中文', '中']],
  ['cat|dog', ['cat', 'hotdog', 'bird', 'catalog']],
  ['^cat|dog$', ['catalog', 'hotdog', 'dogma', 'xcat']],
  ['^(a|b|c){2}$', ['ab', 'cc', 'abc', 'a']],
  ['^((a)|b)c$', ['ac', 'bc', 'c']],
  ['^[^"\\\\]*$', ['plain', 'has"quote', 'back\\slash']],
  ['^\\+?[0-9]{1,3}[ -]?[0-9]{3}$', ['+1 555', '44-123', '+1234-567', '1555']],
  ['^.{2,4}$', ['ab', 'abcd', 'a', 'abcde', '中文字']],
  ['^[\\s\\S]$', ['x', ' ', '\n']],
  ['^[.]$', ['.', 'a']],
  ['^\\/path\\/$', ['/path/', 'path']],
];

export function expected() {
  return cases.map(([pattern, strings]) => ({
    pattern,
    strings: strings.map((s) => ({ s, match: new RegExp(pattern, 'u').test(s) })),
  }));
}

if (process.argv.includes('--write')) {
  const out = fileURLToPath(new URL('./regex_cases.json', import.meta.url));
  writeFileSync(out, JSON.stringify(expected(), null, 1) + '\n');
}
