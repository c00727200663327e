/** Resolves after `ms` milliseconds: the tests' and the bench's one pause. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
