/** Lets pending I/O and timers run between chunks of long work on the event loop. */
export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
