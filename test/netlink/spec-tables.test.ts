import { readFileSync } from 'node:fs';

import test from 'ava';
import { parse } from 'yaml';

import { addressTable } from '../../src/netlink/address-table.js';
import type { AttributeKind, AttributeSpec, AttributeTable } from '../../src/netlink/attributes.js';
import { bridgeInfoTable, linkInfoTable, linkTable, propListTable, VETH_INFO_PEER, vethInfoTable } from '../../src/netlink/link-table.js';
import { metricsTable, routeTable } from '../../src/netlink/route-table.js';
import { ruleTable } from '../../src/netlink/rule-table.js';

// Holds every attribute table against the kernel's YAML netlink specs (Documentation/netlink/
// specs in the kernel tree). The specs live beside the repository, in ../shared.
const SPEC_DIRECTORY = new URL('../../../../shared/reference/kernel-netlink-specs/', import.meta.url);

interface YamlAttribute {
  name: string;
  type?: string;
  value?: number;
  'byte-order'?: string;
  'nested-attributes'?: string;
}

interface YamlSet {
  name: string;
  'subset-of'?: string;
  attributes: YamlAttribute[];
}

interface YamlSpec {
  'attribute-sets': YamlSet[];
  'sub-messages'?: { name: string; formats: { value: string; 'attribute-set'?: string }[] }[];
}

/** One attribute of a spec set, with its number worked out. */
interface SpecAttribute {
  number: number;
  name: string;
  type: string;
  byteOrder: string | undefined;
  nestedSet: string | undefined;
}

const specs = new Map<string, YamlSpec>();

function loadSpec(file: string): YamlSpec {
  let spec = specs.get(file);
  if (!spec) {
    spec = parse(readFileSync(new URL(file, SPEC_DIRECTORY), 'utf8')) as YamlSpec;
    specs.set(file, spec);
  }
  return spec;
}

/**
 * Returns the attributes of `setName`, numbered as the kernel's YAML tools number them: an
 * attribute takes its `value`, else the previous number plus one, starting from 1. A set that
 * is a subset of another takes numbers and types from that one.
 */
function specAttributes(file: string, setName: string): SpecAttribute[] {
  const spec = loadSpec(file);
  const set = spec['attribute-sets'].find((each) => each.name === setName);
  if (!set) throw new Error(`${file} has no attribute set ${setName}`);

  if (set['subset-of']) {
    const parent = specAttributes(file, set['subset-of']);
    return set.attributes.map((attribute) => {
      const inherited = parent.find((each) => each.name === attribute.name);
      if (!inherited) throw new Error(`${setName}: ${attribute.name} is not in ${set['subset-of']}`);
      return inherited;
    });
  }

  let previous = 0;
  return set.attributes.map((attribute) => {
    const number = attribute.value ?? previous + 1;
    previous = number;
    return {
      number,
      name: attribute.name,
      type: attribute.type ?? '',
      byteOrder: attribute['byte-order'],
      nestedSet: attribute['nested-attributes'],
    };
  });
}

/**
 * The spec types each kind of ours encodes. Kinds that render bytes as text (addresses) or
 * split a type by byte order keep the spec's wire format, so they are not exceptions.
 */
const WIRE_FORMATS: Record<AttributeKind, (attribute: SpecAttribute) => boolean> = {
  u8: (attribute) => attribute.type === 'u8',
  u16: (attribute) => attribute.type === 'u16' && attribute.byteOrder !== 'big-endian',
  u32: (attribute) => attribute.type === 'u32' && attribute.byteOrder !== 'big-endian',
  s32: (attribute) => attribute.type === 's32',
  u64: (attribute) => attribute.type === 'u64' && attribute.byteOrder !== 'big-endian',
  u64be: (attribute) => attribute.type === 'u64' && attribute.byteOrder === 'big-endian',
  u16be: (attribute) => attribute.type === 'u16' && attribute.byteOrder === 'big-endian',
  u32be: (attribute) => attribute.type === 'u32' && attribute.byteOrder === 'big-endian',
  string: (attribute) => attribute.type === 'string',
  binary: (attribute) => attribute.type === 'binary',
  // IP and hardware addresses are binary in the spec, shown as text with a display hint.
  address: (attribute) => attribute.type === 'binary',
  hwaddr: (attribute) => attribute.type === 'binary',
  flag: (attribute) => attribute.type === 'flag',
  // A sub-message is a nest whose attribute set depends on a selector, such as the link kind.
  nested: (attribute) => attribute.type === 'nest' || attribute.type === 'sub-message',
};

// Entries that hold no attribute: the reserved number 0 of some sets.
const NOT_ATTRIBUTES = new Set(['unused']);

const TABLES: { file: string; table: AttributeTable }[] = [
  { file: 'rt-link.yaml', table: linkTable },
  { file: 'rt-link.yaml', table: propListTable },
  { file: 'rt-link.yaml', table: linkInfoTable },
  { file: 'rt-link.yaml', table: bridgeInfoTable },
  { file: 'rt-addr.yaml', table: addressTable },
  { file: 'rt-route.yaml', table: routeTable },
  { file: 'rt-route.yaml', table: metricsTable },
  { file: 'rt-rule.yaml', table: ruleTable },
];

function describe(spec: AttributeSpec): string {
  return `${spec.name} (${spec.type})`;
}

for (const { file, table } of TABLES) {
  test(`${table.setName} numbers match the spec`, (t) => {
    const attributes = specAttributes(file, table.setName);

    for (const spec of table.specs) {
      const expected = attributes.find((attribute) => attribute.name === spec.name);
      if (!expected) {
        t.fail(`${describe(spec)} is not in ${file} ${table.setName}`);
        continue;
      }
      t.is(spec.type, expected.number, `${spec.name}: number`);
    }
  });

  test(`${table.setName} kinds match the spec`, (t) => {
    const attributes = specAttributes(file, table.setName);

    for (const spec of table.specs) {
      const expected = attributes.find((attribute) => attribute.name === spec.name);
      if (!expected) continue; // Reported by the numbers test.

      const matches = WIRE_FORMATS[spec.kind](expected);
      const wire = `${expected.type}${expected.byteOrder ? ` ${expected.byteOrder}` : ''}`;
      if (spec.differsFromSpec === undefined) {
        t.true(matches, `${describe(spec)}: kind ${spec.kind} does not encode the spec's ${wire}; fix the kind or give the reason in differsFromSpec`);
      } else {
        t.false(matches, `${describe(spec)}: differsFromSpec is set, but kind ${spec.kind} already encodes the spec's ${wire}`);
      }
    }
  });

  test(`${table.setName} nests name the spec's sets`, (t) => {
    const attributes = specAttributes(file, table.setName);

    const mismatched = table.specs.flatMap((spec) => {
      const expected = attributes.find((attribute) => attribute.name === spec.name);
      if (spec.nested === undefined || expected?.nestedSet === undefined) return [];
      return spec.nested.setName === expected.nestedSet ? [] : [`${spec.name}: table ${spec.nested.setName}, spec ${expected.nestedSet}`];
    });

    t.deepEqual(mismatched, []);
  });

  test(`${table.setName} keeps the rest raw`, (t) => {
    const attributes = specAttributes(file, table.setName).filter((attribute) => !NOT_ATTRIBUTES.has(attribute.type));
    const declared = new Set(table.specs.map((spec) => spec.name));

    const unaccounted = attributes
      .filter((attribute) => !declared.has(attribute.name) && !table.keptRaw[attribute.name])
      .map((attribute) => `${attribute.name} (${attribute.number})`);
    const stale = Object.keys(table.keptRaw).filter((name) => !attributes.some((attribute) => attribute.name === name));
    const withoutReason = Object.entries(table.keptRaw)
      .filter(([, reason]) => reason.trim() === '')
      .map(([name]) => name);

    t.deepEqual(unaccounted, [], 'attributes neither decoded nor in the kept-raw list');
    t.deepEqual(stale, [], 'kept-raw entries that the spec does not have');
    t.deepEqual(withoutReason, [], 'kept-raw entries without a reason');
  });
}

test('link kinds decode with the spec sets', (t) => {
  const formats = loadSpec('rt-link.yaml')['sub-messages']?.find((each) => each.name === 'linkinfo-data-msg')?.formats ?? [];

  t.is(formats.find((format) => format.value === 'bridge')?.['attribute-set'], bridgeInfoTable.setName);
});

// The spec has no veth format: VETH_INFO_PEER comes from include/uapi/linux/veth.h,
// enum { VETH_INFO_UNSPEC, VETH_INFO_PEER, __VETH_INFO_MAX }. Once the spec gains a veth
// set, this test fails, and the veth table belongs in TABLES above.
test('veth is absent from the spec', (t) => {
  const spec = loadSpec('rt-link.yaml');
  const formats = spec['sub-messages']?.find((each) => each.name === 'linkinfo-data-msg')?.formats ?? [];

  t.false(formats.some((format) => format.value === 'veth'));
  t.false(spec['attribute-sets'].some((set) => set.name === vethInfoTable.setName));
  t.is(VETH_INFO_PEER, 1);
  t.deepEqual(
    vethInfoTable.specs.map((spec) => [spec.name, spec.type]),
    [['peer', 1]],
  );
});

test('every listed exception has a reason', (t) => {
  const exceptions = TABLES.flatMap(({ table }) =>
    table.specs.filter((spec) => spec.differsFromSpec !== undefined).map((spec) => `${table.setName} ${spec.name}`),
  );

  // The exact list, so that a new exception is a visible change to this test.
  t.deepEqual(exceptions.sort(), [
    'addr-attrs target-netnsid',
    'fib-rule-attrs dst',
    'fib-rule-attrs src',
    'fib-rule-attrs tun-id',
    'linkinfo-bridge-attrs vlan-protocol',
    'route-attrs dport',
    'route-attrs sport',
  ]);
});
