import { describe, expect, it } from '@jest/globals';
import { buildSchema } from 'graphql';
import { loadConfig } from '../../../src/config';
import { MAX_RECOMMENDATIONS } from '../../../src/models/recommendations';
import { loadSupergraph } from '../../subgraphs';
import { documentedMaximums } from '..';

describe('documentedMaximums', () => {
  it("reads each list field's maximum from its description in the supergraph, as the subgraphs enforce it", () => {
    const schema = buildSchema(loadSupergraph(loadConfig({ NODE_ENV: 'test' })), { assumeValidSDL: true });
    const maximums = documentedMaximums(schema);
    expect(maximums.get('Member.recommendations')).toBe(MAX_RECOMMENDATIONS);
    expect(maximums.get('Book.similarBooks')).toBe(MAX_RECOMMENDATIONS);
  });
});
