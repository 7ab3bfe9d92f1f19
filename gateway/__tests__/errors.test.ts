import { describe, expect, it, jest } from '@jest/globals';
import { GraphQLError } from 'graphql';
import type { Logger } from '../../src/logging';
import { createErrorFormatter } from '../errors';

function recordingLogger() {
  const error = jest.fn();
  return { logger: { error } as unknown as Logger, error };
}

describe('createErrorFormatter', () => {
  it('passes errors with a client-facing code, without stack traces', () => {
    const { logger, error } = recordingLogger();
    const format = createErrorFormatter(logger, { logDetails: true });
    const forbidden = { message: 'no', path: ['member', 'email'], extensions: { code: 'FORBIDDEN', field: 'Member.email', stacktrace: ['at x'] } };
    expect(format(forbidden, new GraphQLError('no'))).toEqual({ message: 'no', path: ['member', 'email'], extensions: { code: 'FORBIDDEN', field: 'Member.email' } });
    expect(error).not.toHaveBeenCalled();
  });

  it('masks anything else as INTERNAL_SERVER_ERROR and logs the details', () => {
    const { logger, error } = recordingLogger();
    const format = createErrorFormatter(logger, { logDetails: true });
    const cause = new Error('connection string postgres://user:secret@db/shelfmark refused');
    const masked = format({ message: cause.message, path: ['models'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, cause);
    expect(masked).toEqual({ message: 'Internal server error', path: ['models'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(error).toHaveBeenCalledWith(expect.objectContaining({ err: cause }), 'unexpected error, masked as INTERNAL_SERVER_ERROR');
    expect(format({ message: 'x', extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } }, new Error('x')).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });
});
