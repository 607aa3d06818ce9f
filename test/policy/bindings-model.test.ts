/**
 * Randomized model check of `Bindings`' bookkeeping (the LRU's dispose ↔ the per-principal sets),
 * as the code documents it: a global LRU (an `owns()` by the owner refreshes recency; a refused one and `bind`'s `has()` do not); a
 * per-principal quota of ceil(max/10), least recently used first (an `owns()` by the owner counts
 * as a use), giving up the binding identity's own id first; first binder wins; `clear()` forgets all.
 */
import { Bindings } from '../../lib/policy/bindings.js';
import type { AuthInfo } from '../../lib/types.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const infos: AuthInfo[] = [];
const iden: string[] = []; const princ: string[] = [];
for (const sub of ['alice', 'bob', undefined]) for (const client of ['c1', 'c2', '']) for (const tok of ['t1', 't2']) {
  infos.push({ token: `${sub}-${client}-${tok}`, clientId: client, scopes: [], expiresAt: 0, extra: { iss: 'https://as', sub } } as AuthInfo);
  iden.push(sub === undefined ? `tok:${sub}-${client}-${tok}` : `${sub}|${client}`);
  princ.push(sub === undefined ? (client === '' ? `tok:${sub}-${client}-${tok}` : `client:${client}`) : `sub:${sub}`);
}

test.each([1, 5, 10, 20, 37, 100])('model agrees (max %i)', (max) => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = rng(seed * 7919 + max);
    const b = new Bindings(max);
    const per = Math.max(1, Math.ceil(max / 10));
    let order: string[] = []; // LRU order, oldest first
    const owner = new Map<string, number>();
    const byP = new Map<string, string[]>();
    const drop = (id: string) => {
      const o = owner.get(id)!; owner.delete(id); order = order.filter((x) => x !== id);
      const l = byP.get(princ[o]!)!; l.splice(l.indexOf(id), 1);
    };
    for (let step = 0; step < 400; step++) {
      const x = r();
      const id = `id${Math.floor(r() * (max * 3 + 5))}`;
      const who = Math.floor(r() * infos.length);
      if (x < 0.5) {
        b.bind(id, infos[who]!);
        if (!owner.has(id)) {
          const l = byP.get(princ[who]!) ?? [];
          byP.set(princ[who]!, l);
          if (l.length >= per) drop(l.find((y) => iden[owner.get(y)!]! === iden[who]!) ?? l[0]!);
          if (order.length >= max) drop(order[0]!);
          owner.set(id, who); order.push(id); l.push(id);
        }
      } else if (x < 0.98) {
        const got = b.owns(id, infos[who]!);
        const o = owner.get(id);
        if (o !== undefined && iden[o]! === iden[who]!) { order = order.filter((y) => y !== id); order.push(id); }
        if (o !== undefined && iden[o]! === iden[who]!) { const l = byP.get(princ[o]!)!; l.splice(l.indexOf(id), 1); l.push(id); }
        expect([seed, step, id, got]).toEqual([seed, step, id, o !== undefined && iden[o]! === iden[who]!]);
      } else {
        b.clear(); owner.clear(); order = []; byP.clear();
      }
      expect(owner.size).toBeLessThanOrEqual(max);
      for (const l of byP.values()) expect(l.length).toBeLessThanOrEqual(per);
    }
  }
});

test('owns() and clear() before any bind(): nothing owned, no throw; clear() then reuse enforces the quota again', () => {
  const b = new Bindings(20); // 2 per principal
  const a = infos[0]!;
  expect(b.owns('x', a)).toBe(false);
  b.clear();
  b.bind('a1', a); b.bind('a2', a);
  b.clear();
  expect(b.owns('a1', a)).toBe(false);
  b.bind('b1', a); b.bind('b2', a); b.bind('b3', a);
  expect([b.owns('b1', a), b.owns('b2', a), b.owns('b3', a)]).toEqual([false, true, true]);
});
