import { expect } from 'chai';
import { defineComponent, definePlugin, Registry, RegistryError } from '../../core/index.js';
import { testPlugin } from './helpers.js';

const tool = (name: string) =>
  defineComponent({
    kind: 'tool',
    name,
    description: 'x',
    options: { type: 'object' },
    create: () => {
      throw new Error('unused');
    },
  });

describe('registry', () => {
  it('throws on a duplicate component id, naming both plugins', () => {
    const reg = new Registry();
    reg.register(testPlugin);
    const other = definePlugin({ meta: { name: 'other', version: '1' }, components: [tool('counter')] });
    expect(() => reg.register(other)).to.throw(
      RegistryError,
      "duplicate component id 'tool/counter': defined by 'agent0/test-fixture' and by 'other'",
    );
  });

  it('throws on a duplicate inside one plugin and registers nothing from it', () => {
    const reg = new Registry();
    const p = definePlugin({ meta: { name: 'p', version: '1' }, components: [tool('a'), tool('b'), tool('a')] });
    expect(() => reg.register(p)).to.throw(RegistryError, "duplicate component id 'tool/a'");
    expect(reg.has('tool/b')).to.equal(false);
  });

  it('throws when the same plugin is registered twice', () => {
    const reg = new Registry();
    reg.register(testPlugin);
    expect(() => reg.register(testPlugin)).to.throw(RegistryError, 'registered twice');
  });

  it('lists the available ids of the kind and the closest match for an unknown id', () => {
    const reg = new Registry();
    reg.register(
      definePlugin({ meta: { name: 'p', version: '1' }, components: [tool('python-sandbox'), tool('sandbox-fusion')] }),
    );
    expect(() => reg.get('tool/python-sanbox')).to.throw(
      "unknown component 'tool/python-sanbox'. Did you mean 'tool/python-sandbox'? Available tool components: tool/python-sandbox, tool/sandbox-fusion",
    );
  });

  it('rejects malformed plugins and unknown kinds', () => {
    const reg = new Registry();
    expect(() => reg.register({} as never)).to.throw(RegistryError, 'use definePlugin');
    const bad = { meta: { name: 'q', version: '1' }, components: [{ ...tool('z'), kind: 'toool' }] };
    expect(() => reg.register(bad as never)).to.throw(RegistryError, "unknown kind 'toool'");
  });
});
