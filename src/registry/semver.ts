/**
 * The registry's versions are plain MAJOR.MINOR.PATCH. A retrain that the serving code can load
 * in place of the last one (same feature spec and input tensors) bumps the minor version; a
 * changed feature spec bumps the major version, because a subgraph built for the old features
 * cannot feed the new model.
 */
import { RegistryError } from './errors';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export const FIRST_VERSION = '1.0.0';

export function isVersion(text: string): boolean {
  return SEMVER.test(text);
}

export function parseVersion(text: string): SemVer {
  const match = SEMVER.exec(text);
  if (!match) throw new RegistryError('invalid-input', `expected a version as MAJOR.MINOR.PATCH (e.g. 1.2.0), got "${text}"`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

/** The highest of `versions`, or undefined when there are none. */
export function latestVersion(versions: Iterable<string>): string | undefined {
  let latest: string | undefined;
  for (const version of versions) if (latest === undefined || compareVersions(version, latest) > 0) latest = version;
  return latest;
}

export function nextVersion(latest: string | undefined, featureSpecChanged: boolean): string {
  if (latest === undefined) return FIRST_VERSION;
  const { major, minor } = parseVersion(latest);
  return featureSpecChanged ? `${major + 1}.0.0` : `${major}.${minor + 1}.0`;
}
