import { randomBytes } from 'node:crypto';
import test from 'ava';
import { readFixed } from '../../src/netlink/fixed.js';
import type { Structure } from 'buffer-layout';
import * as structs from '../../src/netlink/structs.js';

// readFixed reads fields directly instead of through buffer-layout; both must agree.
for (const [name, value] of Object.entries(structs)) {
  if (typeof value !== 'object' || !('fields' in value)) continue;
  const layout = value as Structure<unknown>;

  test(`readFixed matches buffer-layout for ${name}`, (t) => {
    for (let round = 0; round < 200; round++) {
      const bytes = randomBytes(layout.span + 8);
      t.deepEqual(readFixed(bytes, layout, name).fixed, layout.decode(bytes, 0));
    }
  });
}
