import { compileNameRules, compilePrefixRules, compileTemplateRules } from '../../lib/policy/resolve.js';

describe('compileNameRules: exact own key > longest prefix* > *', () => {
  const resolve = compileNameRules({
    delete_note: ['notes:write'],
    'note_*': ['notes:read'],
    'note_admin_*': ['notes:admin'],
    'note_admin_ping': ['ping'],
    '*': ['base'],
  });

  test('an exact key wins over every pattern', () => {
    expect(resolve('note_admin_ping')).toEqual(['ping']);
    expect(resolve('delete_note')).toEqual(['notes:write']);
  });

  test('the longest matching prefix wins, whatever the key order', () => {
    expect(resolve('note_admin_purge')).toEqual(['notes:admin']);
    expect(resolve('note_get')).toEqual(['notes:read']);
    const reversed = compileNameRules({ 'note_admin_*': ['notes:admin'], 'note_*': ['notes:read'] });
    expect(reversed('note_admin_x')).toEqual(['notes:admin']);
    const forward = compileNameRules({ 'note_*': ['notes:read'], 'note_admin_*': ['notes:admin'] });
    expect(forward('note_admin_x')).toEqual(['notes:admin']);
  });

  test('a prefix pattern matches the bare prefix too', () => {
    expect(resolve('note_')).toEqual(['notes:read']);
  });

  test('* catches the rest; exactly one rule applies (no inheritance of * scopes)', () => {
    expect(resolve('anything')).toEqual(['base']);
    expect(resolve('delete_note')).not.toContain('base');
  });

  test('no rule → undefined (default deny)', () => {
    const strict = compileNameRules({ delete_note: ['notes:write'], 'note_*': [] });
    expect(strict('other')).toBeUndefined();
    expect(strict('')).toBeUndefined();
    expect(strict('note_x')).toEqual([]);
  });

  test('prototype names are ordinary unknown names, never a crash or an inherited hit', () => {
    const strict = compileNameRules({ delete_note: ['notes:write'] });
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      expect(strict(name)).toBeUndefined();
    }
  });

  test('prototype names as own keys map like any other key', () => {
    const map = Object.create(null) as Record<string, string[]>;
    map['__proto__'] = ['p'];
    map['constructor'] = ['c'];
    map['toString'] = ['t'];
    const r = compileNameRules(JSON.parse('{"__proto__":["p"],"constructor":["c"],"toString":["t"]}') as Record<string, string[]>);
    expect(r('__proto__')).toEqual(['p']);
    expect(r('constructor')).toEqual(['c']);
    expect(r('toString')).toEqual(['t']);
    const r2 = compileNameRules(map);
    expect(r2('__proto__')).toEqual(['p']);
    expect(r2('hasOwnProperty')).toBeUndefined();
  });

  test('case, Unicode look-alikes, normalisation forms and whitespace stay distinct', () => {
    const strict = compileNameRules({ delete_note: ['w'], 'café': ['c'], 'admin_*': ['a'] });
    expect(strict('Delete_Note')).toBeUndefined();
    expect(strict('DELETE_NOTE')).toBeUndefined();
    expect(strict('delete_note ')).toBeUndefined();
    expect(strict(' delete_note')).toBeUndefined();
    expect(strict('dеlete_note')).toBeUndefined(); // Cyrillic е
    expect(strict('delete\u200b_note')).toBeUndefined(); // zero-width space
    expect(strict('ｄelete_note')).toBeUndefined(); // fullwidth d
    expect(strict('café')).toEqual(['c']); // NFC
    expect(strict('cafe\u0301')).toBeUndefined(); // NFD form of the same text
    expect(strict('Admin_x')).toBeUndefined();
    expect(strict('аdmin_x')).toBeUndefined(); // Cyrillic а
  });
});

describe('compilePrefixRules (resourceScopes): longest URI prefix > *', () => {
  const resolve = compilePrefixRules({
    'notes://': ['notes:read'],
    'notes://private/': ['notes:private'],
    'files://*': ['files'],
    'notes://private/readme': ['public'],
    '*': ['other'],
  });

  test('longest prefix wins; a full-URI key is the longest; a trailing * means the same', () => {
    expect(resolve('notes://a')).toEqual(['notes:read']);
    expect(resolve('notes://private/x')).toEqual(['notes:private']);
    expect(resolve('notes://private/readme')).toEqual(['public']);
    expect(resolve('files:///etc')).toEqual(['files']);
    expect(resolve('http://x')).toEqual(['other']);
  });

  test('no normalisation: case and percent-encoding are distinct', () => {
    const strict = compilePrefixRules({ 'notes://private/': ['p'] });
    expect(strict('NOTES://private/x')).toBeUndefined();
    expect(strict('notes://%70rivate/x')).toBeUndefined();
    expect(strict('__proto__')).toBeUndefined();
  });

  test('a URI needs the scopes of its spelling and of the form the MCP SDK dispatches on (new URL().href)', () => {
    const notes = compilePrefixRules({ 'notes://private/': ['notes:admin'], 'notes://': ['notes:read'] });
    for (const uri of ['notes://private:/b', 'notes://pri\tvate/b', 'notes://priv\nate/b']) {
      expect([...notes(uri)!].sort()).toEqual(['notes:admin', 'notes:read']);
    }
    expect(notes('notes://public/x/../../private/b')).toEqual(['notes:read']); // dot segments stay in the path: notes://public/private/b
    expect(notes('notes://private/b')).toEqual(['notes:admin']);
    expect(notes('not a url')).toBeUndefined();
    expect(notes('NOTES://private/b')).toBeUndefined(); // no rule matches it as sent
    // Mapped as sent but not as dispatched (or the reverse): unmapped, refused by default.
    const only = compilePrefixRules({ 'notes://pri\tvate/': ['x'] });
    expect(only('notes://pri\tvate/b')).toBeUndefined();
  });

  test('a URI is parsed once, not on every lookup (the answer is remembered)', () => {
    const notes = compilePrefixRules({ 'notes://private/': ['notes:admin'], 'notes://': ['notes:read'] });
    const Original = globalThis.URL;
    let parses = 0;
    globalThis.URL = class extends Original {
      constructor(input: string | URL, base?: string | URL) {
        super(input, base);
        parses++;
      }
    } as typeof URL;
    try {
      for (let i = 0; i < 20; i++) {
        expect(notes('notes://public/a')).toEqual(['notes:read']);
        expect([...notes('notes://private:/b')!].sort()).toEqual(['notes:admin', 'notes:read']);
      }
      expect(parses).toBe(2);
      // A long URI is not remembered (no client can fill the memory with them): resolved each time.
      const long = `notes://public/${'x'.repeat(5000)}`;
      for (let i = 0; i < 3; i++) expect(notes(long)).toEqual(['notes:read']);
      expect(parses).toBe(5);
    } finally {
      globalThis.URL = Original;
    }
  });
});

describe('compileTemplateRules (resources/templates/list): the rules a template\'s expansions may fall under', () => {
  const rules = compileTemplateRules({ 'notes://': ['notes:read'], 'notes://public/': [], 'notes://public/archive/': ['archive'], 'files://*': ['files'], '*': ['any'] });

  test.each([
    ['its literal prefix\'s rule, and the longer keys an expression may reach', 'notes://{id}', [['archive'], [], ['notes:read']]],
    ['a prefix inside a key: that key and the longer ones', 'notes://public/{id}', [['archive'], []]],
    ['a key longer than the literal prefix but not starting with it does not count', 'notes://private/{id}', [['notes:read']]],
    ['a trailing * in a key means the same', 'files://{path}', [['files']]],
    ['no key: *', 'other://{x}', [['any']]],
    ['an empty literal prefix: every key, and *', '{+uri}', [['archive'], [], ['notes:read'], ['files'], ['any']]],
    ['no expression: the one URI\'s rule, no longer key', 'notes://public', [['notes:read']]],
  ])('%s: %s', (_label, template, expected) => {
    expect(rules(template)).toEqual(expected);
  });

  test('without *: an unmapped prefix is undefined (denied)', () => {
    expect(compileTemplateRules({ 'notes://': ['r'] })('files://{x}')).toEqual([undefined]);
  });
});
