/**
 * The persisted-query manifest: every operation registered under `schema/operations/` (one named
 * operation per `.graphql` file, with the fragments it uses), in Apollo's manifest format.
 * The manifest is made by Apollo's own generator (`@apollo/generate-persisted-query-manifest`),
 * so each body is the document exactly as Apollo Client sends it (`__typename` added to every
 * selection) and each id is the SHA-256 of that body: the id a partner's own Apollo tooling
 * computes, and the hash an APQ client sends as `extensions.persistedQuery.sha256Hash`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, Kind, parse, print, validate, visit, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';

export interface PersistedOperation {
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: PersistedOperation[];
}

export function operationsDir(projectRoot: string): string {
  return path.join(projectRoot, 'schema', 'operations');
}

export function manifestPath(projectRoot: string): string {
  return path.join(projectRoot, 'schema', 'persisted-queries.json');
}

export function operationId(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** One file's operation name; throws with the file name when it is not exactly one named operation the supergraph can run. */
function checkedOperationName(file: string, source: string, schema: GraphQLSchema): string {
  const document = parse(source);
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation) throw new Error(`${file}: expected exactly one operation, found ${operations.length}`);
  if (!operation.name) throw new Error(`${file}: the operation needs a name (partners and logs refer to it by name)`);
  const errors = validate(schema, document);
  if (errors.length > 0) throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
  return operation.name.value;
}

/**
 * Builds the manifest from the `.graphql` files in `dir`, each checked first (one named
 * operation, valid against the supergraph, names unique) so a registered operation can never
 * fail for being invalid, then run through Apollo's generator.
 */
export async function buildManifest(dir: string, supergraphSdl: string): Promise<PersistedQueryManifest> {
  const schema = buildSchema(supergraphSdl, { assumeValidSDL: true });
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  const names = new Set<string>();
  for (const file of files) {
    const name = checkedOperationName(file, readFileSync(path.join(dir, file), 'utf8'), schema);
    if (names.has(name)) throw new Error(`operation name ${name} is registered twice under ${dir}`);
    names.add(name);
  }
  // A development dependency, loaded only when a manifest is built (never by the running gateway).
  const { generatePersistedQueryManifest } = await import('@apollo/generate-persisted-query-manifest');
  const generated = await generatePersistedQueryManifest({ documents: files.map((file) => path.join(dir, file)) }, undefined);
  const operations = generated.operations.map(({ id, name, type, body }) => ({ id, name, type, body }));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

export function serializeManifest(manifest: PersistedQueryManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * The id the same operation had in manifests made before Apollo's generator: the SHA-256 of
 * the body printed without the `__typename` selections the generator adds.
 */
export function idWithoutTypenames(body: string): string {
  const stripped = visit(parse(body), {
    Field: (field) => (field.name.value === '__typename' && !field.alias ? null : undefined),
  });
  return operationId(print(stripped));
}

/**
 * Reads a manifest file into a lookup by id, checking the format and every id against its body.
 * Each operation is also found by its id without `__typename` (see idWithoutTypenames), so a
 * partner holding an id from an older manifest keeps being answered.
 */
export function loadManifest(file: string): Map<string, PersistedOperation> {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Partial<PersistedQueryManifest>;
  if (manifest.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1 || !Array.isArray(manifest.operations)) {
    throw new Error(`${file}: expected {"format":"apollo-persisted-query-manifest","version":1,"operations":[...]}`);
  }
  const byId = new Map<string, PersistedOperation>();
  for (const operation of manifest.operations) {
    if (operationId(operation.body) !== operation.id) throw new Error(`${file}: operation ${operation.name} has id ${operation.id}, but its body hashes to ${operationId(operation.body)}`);
    byId.set(operation.id, operation);
  }
  for (const operation of manifest.operations) {
    const older = idWithoutTypenames(operation.body);
    if (!byId.has(older)) byId.set(older, operation);
  }
  return byId;
}
