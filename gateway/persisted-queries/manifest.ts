/**
 * The persisted-query manifest: every operation registered under `schema/operations/` (one named
 * operation per `.graphql` file, with the fragments it uses), in Apollo's manifest format.
 * An operation's id is the SHA-256 of its printed body, the same hash an APQ client sends as
 * `extensions.persistedQuery.sha256Hash`, so a partner can use either.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, Kind, parse, print, validate, type OperationDefinitionNode } from 'graphql';

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

/** One file's operation, printed canonically; throws with the file name when it is not exactly one named operation. */
function persistedOperation(file: string, source: string): PersistedOperation {
  const document = parse(source);
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) throw new Error(`${file}: expected exactly one operation, found ${operations.length}`);
  const operation = operations[0]!;
  if (!operation.name) throw new Error(`${file}: the operation needs a name (partners and logs refer to it by name)`);
  const body = print(document);
  return { id: operationId(body), name: operation.name.value, type: operation.operation, body };
}

/**
 * Builds the manifest from the `.graphql` files in `dir`, sorted by file name, each validated
 * against the supergraph so a registered operation can never fail for being invalid.
 */
export function buildManifest(dir: string, supergraphSdl: string): PersistedQueryManifest {
  const schema = buildSchema(supergraphSdl, { assumeValidSDL: true });
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  const operations = files.map((file) => {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const operation = persistedOperation(file, source);
    const errors = validate(schema, parse(operation.body));
    if (errors.length > 0) throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
    return operation;
  });
  const names = new Set<string>();
  for (const { name } of operations) {
    if (names.has(name)) throw new Error(`operation name ${name} is registered twice under ${dir}`);
    names.add(name);
  }
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

export function serializeManifest(manifest: PersistedQueryManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Reads a manifest file into a lookup by id, checking the format and every id against its body. */
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
  return byId;
}
