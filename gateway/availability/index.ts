/**
 * Partial answers when a subgraph is down or slower than `subgraphTimeoutMs`: the rest of the
 * answer arrives, and the error for the missing part names the subgraph, its model, and the
 * fields of the operation that could not be resolved, e.g.
 * "churn subgraph unavailable: Member.churnRisk could not be resolved" (MODEL_UNAVAILABLE; a
 * subgraph that serves no model answers SUBGRAPH_UNAVAILABLE).
 *
 * Two halves: `SubgraphDataSource` turns a failed fetch into an error marked with its subgraph
 * (Apollo Gateway would otherwise pass on a bare "fetch failed"), and the `availability` plugin
 * rewrites those marks, once per subgraph, with the fields derived from the supergraph.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { MODEL_NAMES, type ModelName } from '../../src/config';
import { ErrorCode } from '../../src/errors';
import type { Logger } from '../../src/logging';
import { balancingFetcher, type ReplicaSet } from '../replicas';
import { subgraphFetcher } from '../subgraph-fetch';
import { unresolvedFields, type FieldOwnership } from './ownership';

export { fieldOwnership, unresolvedFields, type FieldOwnership } from './ownership';

/** Extension key of the mark a failed fetch leaves, removed before the answer leaves the gateway. */
const UNREACHABLE = 'unreachableSubgraph';

type Reason = 'timeout' | 'unreachable' | 'response too large' | `http ${number}` | 'error';

function reasonOf(error: Error, status: number | undefined): Reason {
  if (status !== undefined && (status < 200 || status >= 300)) return `http ${status}`;
  const causes = [error, (error as { cause?: unknown }).cause].filter((e): e is Error & { code?: string } => e instanceof Error);
  if (causes.some((e) => e.name === 'TimeoutError' || e.name === 'AbortError')) return 'timeout';
  if (causes.some((e) => e.code === 'ERR_RESPONSE_TOO_LARGE')) return 'response too large';
  if (causes.some((e) => ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_SOCKET'].includes(e.code ?? ''))) return 'unreachable';
  return 'error';
}

function codeFor(subgraph: string): { code: ErrorCode; model?: ModelName } {
  const model = (MODEL_NAMES as readonly string[]).includes(subgraph) ? (subgraph as ModelName) : undefined;
  return model ? { code: ErrorCode.MODEL_UNAVAILABLE, model } : { code: ErrorCode.SUBGRAPH_UNAVAILABLE };
}

export interface SubgraphDataSourceOptions<TContext extends Record<string, unknown>> {
  name: string;
  /** The subgraph's replicas: each request goes to one in turn (see ../replicas). */
  replicas: ReplicaSet;
  timeoutMs: number;
  /** Largest answer read from the subgraph; a larger one leaves its fields unresolved. */
  maxResponseBytes?: number;
  logger: Logger;
  /** Sets the headers of each subgraph request (the signed identity); health checks carry no request context. */
  prepare: (headers: { set(name: string, value: string): void }, context: TContext | Record<string, unknown>) => void;
  /** Fires when a request is sent on to another replica after one could not be reached. */
  onFailover?: () => void;
}

export class SubgraphDataSource<TContext extends Record<string, unknown>> extends RemoteGraphQLDataSource<TContext> {
  private readonly subgraph: string;
  private readonly log: Logger;

  constructor({ name, replicas, timeoutMs, maxResponseBytes, logger, prepare, onFailover }: SubgraphDataSourceOptions<TContext>) {
    super({
      url: replicas.urls[0],
      fetcher: balancingFetcher(replicas, subgraphFetcher({ timeoutMs, maxResponseBytes }), {
        onFailover: (from, code) => {
          logger.warn({ subgraph: name, replica: from, code }, `${name} replica unreachable; the request goes to another`);
          onFailover?.();
        },
      }),
      willSendRequest: ({ request, context }) => {
        if (request.http) prepare(request.http.headers, context);
      },
    });
    this.subgraph = name;
    this.log = logger;
  }

  override didEncounterError(error: Error, _fetchRequest: unknown, fetchResponse?: { status: number }): void {
    const reason = reasonOf(error, fetchResponse?.status);
    this.log.warn({ subgraph: this.subgraph, reason, err: error.message }, `${this.subgraph} subgraph did not answer`);
    const { code, model } = codeFor(this.subgraph);
    throw new GraphQLError(`${this.subgraph} subgraph unavailable (${reason})`, {
      extensions: { code, subgraph: this.subgraph, ...(model ? { model } : {}), reason, [UNREACHABLE]: true },
    });
  }
}

export interface AvailabilityOptions {
  ownership: FieldOwnership;
  /** Fires once per operation and unavailable subgraph. */
  onUnavailable?: (subgraph: string) => void;
}

/** Apollo plugin: one error per unavailable subgraph, naming the fields left unresolved. */
export function availability({ ownership, onUnavailable }: AvailabilityOptions): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        /** Fires last, with the formatted answer: the marks from failed fetches are rewritten here. */
        async willSendResponse({ response, schema, document, operation }) {
          if (response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors;
          const marked = errors?.filter((e) => e.extensions?.[UNREACHABLE] === true) ?? [];
          if (!errors || marked.length === 0) return;
          const reasons = new Map<string, unknown>();
          for (const mark of marked) reasons.set(String(mark.extensions!.subgraph), mark.extensions!.reason);
          const fields = document && operation ? unresolvedFields(ownership, schema, document, operation, new Set(reasons.keys())) : new Map<string, string[]>();
          const rewritten: GraphQLFormattedError[] = [...reasons].map(([subgraph, reason]) => {
            onUnavailable?.(subgraph);
            const { code, model } = codeFor(subgraph);
            const missing = fields.get(subgraph) ?? [];
            const message = missing.length > 0
              ? `${subgraph} subgraph unavailable: ${missing.join(', ')} could not be resolved`
              : `${subgraph} subgraph unavailable (${String(reason)})`;
            return { message, extensions: { code, subgraph, ...(model ? { model } : {}), fields: missing, reason } };
          });
          response.body.singleResult.errors = [...errors.filter((e) => e.extensions?.[UNREACHABLE] !== true), ...rewritten];
        },
      };
    },
  };
}
