/**
 * Waits for `p` at most `ms` milliseconds: true when it settled in time (a rejection counts as settled),
 * false when the time ran out. The timer does not keep the process alive, and `p` is not cancelled.
 */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
