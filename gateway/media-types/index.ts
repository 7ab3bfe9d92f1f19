/**
 * The two response media types of the GraphQL-over-HTTP specification, and the status each
 * gives a GraphQL request error (a document that does not parse or validate, variables that do
 * not coerce, an operation that cannot be chosen):
 * - `application/graphql-response+json`: the status says what went wrong (400);
 * - `application/json` (also what a client without an Accept header gets): 200, the errors are
 *   in the body, as legacy clients expect.
 * The gateway's own refusals (authentication, rate limits, query limits, persisted queries) keep
 * their status under both: they are not GraphQL request errors.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../../src/errors';

export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json';
export const APPLICATION_JSON = 'application/json';
export type ResponseMediaType = typeof GRAPHQL_RESPONSE_JSON | typeof APPLICATION_JSON;

/** The codes of GraphQL request errors, Apollo's and the gateway's own. */
const REQUEST_ERROR_CODES = new Set<string>([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'OPERATION_RESOLUTION_FAILURE',
  ErrorCode.OPERATION_NOT_FOUND,
  ErrorCode.OPERATION_NAME_REQUIRED,
  ErrorCode.OPERATION_TYPE_NOT_SUPPORTED,
]);

/** The quality the Accept header gives `type` (exact, `application/*` or `*\/*`), 0 when absent. */
function quality(accept: string, type: string): number {
  const [family] = type.split('/');
  let best = -1;
  let bestSpecificity = -1;
  for (const range of accept.split(',')) {
    const [name = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    const specificity = name === type ? 2 : name === `${family}/*` ? 1 : name === '*/*' ? 0 : -1;
    if (specificity <= bestSpecificity) continue;
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    bestSpecificity = specificity;
    best = Number.isFinite(value) ? value : 0;
  }
  return Math.max(best, 0);
}

/** The media type a response takes: the one the client prefers; application/json on a tie or without Accept, as Apollo chooses. */
export function responseMediaType(accept: string | undefined): ResponseMediaType {
  if (!accept) return APPLICATION_JSON;
  return quality(accept, GRAPHQL_RESPONSE_JSON) > quality(accept, APPLICATION_JSON) ? GRAPHQL_RESPONSE_JSON : APPLICATION_JSON;
}

export function isRequestErrorCode(code: unknown): boolean {
  return typeof code === 'string' && REQUEST_ERROR_CODES.has(code);
}

/** Whether every error of an answer Apollo made is a GraphQL request error, not a refusal by the gateway's policies. */
export function areRequestErrors(errors: readonly Pick<GraphQLFormattedError, 'extensions'>[]): boolean {
  return errors.length > 0 && errors.every((error) => {
    const code = error.extensions?.code;
    // Apollo's variable coercion errors; the gateway's own BAD_USER_INPUT refusals name their limit.
    if (code === ErrorCode.BAD_USER_INPUT) return error.extensions?.limit === undefined;
    return isRequestErrorCode(code);
  });
}

/** The status of an answer that holds only request errors, for a client accepting `mediaType`. */
export function requestErrorStatus(status: number, mediaType: ResponseMediaType): number {
  return mediaType === APPLICATION_JSON && status === 400 ? 200 : status;
}

/** Apollo plugin: request errors answer 200 to clients that accept only application/json. */
export function mediaTypeStatus(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        // Fires once the answer is complete, before Apollo writes its status and content type.
        async willSendResponse({ request, response }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (result.data !== undefined || !result.errors || !areRequestErrors(result.errors)) return;
          const status = response.http.status;
          if (status !== undefined) response.http.status = requestErrorStatus(status, responseMediaType(request.http?.headers.get('accept')));
        },
      };
    },
  };
}
