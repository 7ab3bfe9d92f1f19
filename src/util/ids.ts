/** Entity ids arrive as GraphQL ID strings; anything that is not a positive integer matches no row. */
export function parseId(id: string): number | undefined {
  return /^[1-9]\d{0,15}$/.test(id) ? Number(id) : undefined;
}
